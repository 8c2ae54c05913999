import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { describe, it } from "node:test";
import {
  HASH_PASSWORD_HELP,
  type HashPasswordIo,
  runHashPassword,
} from "../../src/cli/hash_password.ts";
import {
  parsePasswordHash,
  verifyPassword,
} from "../../src/auth/credentials.ts";
import { parseUsersFile } from "../../src/auth/users_file.ts";
import { runtimeCommand } from "../_helpers/runtime.ts";

const ENTRY = /^pbkdf2-sha256\$(\d+)\$[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=$/;
const PROGRAM = "edgesocks hash-password";
const LOW = ["--iterations", "1000"];

interface Fake {
  io: HashPasswordIo;
  stdout(): string;
  stderr(): string;
  /** Every setRawMode call, in order. */
  rawModes: boolean[];
  /** Whether the input was read at all, and whether it was released. */
  read(): boolean;
  released(): boolean;
}

// stdin yields `chunks` then ends; a TTY one can be put in raw mode.
function fake(
  chunks: (string | Uint8Array)[],
  terminal: { tty?: boolean; rawMode?: boolean } = {},
): Fake {
  let stdout = "";
  let stderr = "";
  let read = false;
  let released = false;
  const rawModes: boolean[] = [];
  const iterable: AsyncIterable<string | Uint8Array> = {
    [Symbol.asyncIterator]() {
      let index = 0;
      return {
        next() {
          read = true;
          const value = chunks[index++];
          return Promise.resolve(
            value === undefined
              ? { done: true, value: undefined }
              : { done: false, value },
          );
        },
        return() {
          released = true;
          return Promise.resolve({ done: true, value: undefined });
        },
      };
    },
  };
  const stdin: HashPasswordIo["stdin"] = Object.assign(
    iterable,
    terminal.tty
      ? {
        isTTY: true,
        setRawMode: terminal.rawMode === false
          ? undefined
          : (raw: boolean) => rawModes.push(raw),
      }
      : {},
  );
  return {
    io: {
      stdin,
      stdout: { write: (text: string) => stdout += text },
      stderr: { write: (text: string) => stderr += text },
    },
    stdout: () => stdout,
    stderr: () => stderr,
    rawModes,
    read: () => read,
    released: () => released,
  };
}

// The entry printed on stdout, checked for shape, without its newline.
function printed(stdout: string, iterations = "1000"): string {
  assert.ok(stdout.endsWith("\n"), JSON.stringify(stdout));
  const entry = stdout.slice(0, -1);
  assert.equal(ENTRY.exec(entry)?.[1], iterations, entry);
  return entry;
}

describe("runHashPassword from a pipe", () => {
  it("runHashPassword() prints an entry for stdin", async () => {
    const run = fake(["s3cret\n"]);
    assert.equal(await runHashPassword(LOW, run.io), 0);
    const entry = printed(run.stdout());
    assert.equal(await verifyPassword("s3cret", entry), true);
    assert.equal(await verifyPassword("s3cret\n", entry), false);
    assert.equal(run.stderr(), "");
  });

  it("runHashPassword() drops exactly one trailing line end", async () => {
    const cases: [(string | Uint8Array)[], string][] = [
      [["s3cret"], "s3cret"],
      [["s3cret\n"], "s3cret"],
      [["s3cret\r\n"], "s3cret"],
      [["s3cret\n\n"], "s3cret\n"],
      [["s3cret\r\n\r\n"], "s3cret\r\n"],
      [["s3cret\r"], "s3cret\r"],
      [["two words\twith tab \n"], "two words\twith tab "],
      [["s3", "cr", "et\r", "\n"], "s3cret"],
      [[new TextEncoder().encode("pässwörd✓\n")], "pässwörd✓"],
      // A multi-byte character split across chunks.
      [[new Uint8Array([0x70, 0xc3]), new Uint8Array([0xa4, 0x0a])], "pä"],
    ];
    for (const [chunks, password] of cases) {
      const run = fake(chunks);
      assert.equal(await runHashPassword(LOW, run.io), 0, password);
      const entry = printed(run.stdout());
      assert.equal(await verifyPassword(password, entry), true, password);
    }
  });

  it("runHashPassword() prints a users-file line with --user", async () => {
    const run = fake(["s3cret\n"]);
    const code = await runHashPassword(
      ["--user", "alice", "--iterations=2000"],
      run.io,
    );
    assert.equal(code, 0);
    assert.ok(run.stdout().startsWith("alice:"), run.stdout());
    const entry = printed(run.stdout().slice("alice:".length), "2000");
    const { users, plaintext } = parseUsersFile(run.stdout(), "users.txt");
    assert.deepEqual([...users], [["alice", entry]]);
    assert.deepEqual(plaintext, []);
    assert.equal(await verifyPassword("s3cret", entry), true);
  });

  it("runHashPassword() uses 600000 iterations by default", async () => {
    const run = fake(["s3cret\n"]);
    assert.equal(await runHashPassword([], run.io), 0);
    assert.equal(
      parsePasswordHash(printed(run.stdout(), "600000")).iterations,
      600000,
    );
  });

  it("runHashPassword() refuses an empty password with exit 2, saying why", async () => {
    for (const input of [[], [""], ["\n"], ["\r\n"]]) {
      const run = fake(input);
      assert.equal(await runHashPassword(LOW, run.io), 2);
      assert.equal(run.stdout(), "");
      assert.equal(
        run.stderr(),
        `${PROGRAM}: the password is empty: a hash of it protects nothing; ` +
          'write "NAME:" in the users file for a name without a password\n',
      );
    }
  });

  it("runHashPassword() refuses a password no client could send", async () => {
    const ok = fake(["p".repeat(255) + "\n"]);
    assert.equal(await runHashPassword(LOW, ok.io), 0);
    for (const input of ["p".repeat(256), "p".repeat(100_000)]) {
      const run = fake([input]);
      assert.equal(await runHashPassword(LOW, run.io), 2);
      assert.equal(run.stdout(), "");
      assert.equal(
        run.stderr(),
        `${PROGRAM}: the password is longer than 255 bytes (RFC 1929), so no client could send it\n`,
      );
    }
    const run = fake([new Uint8Array([0x73, 0xff, 0x0a])]);
    assert.equal(await runHashPassword(LOW, run.io), 2);
    assert.equal(run.stderr(), `${PROGRAM}: the password is not valid UTF-8\n`);
  });
});

describe("runHashPassword flags", () => {
  it("runHashPassword() names the flag of every usage mistake, exit 2, stdin unread", async () => {
    const range = "expected an integer from 1000 to 10000000";
    const cases: [string[], string][] = [
      [["--bogus"], "unknown flag --bogus"],
      [["-x"], "unknown flag -x"],
      [["extra"], 'unexpected argument "extra"'],
      [["--", "extra"], 'unexpected argument "extra"'],
      [["--user"], "--user needs a value"],
      [["--user", "--iterations", "1000"], "--user needs a value"],
      [["--iterations"], "--iterations needs a value"],
      [
        ["--iterations", "1000", "--iterations", "2000"],
        "--iterations is given twice",
      ],
      [["--user", "a", "--user=b"], "--user is given twice"],
      [["--help=yes"], "--help takes no value"],
      [["--iterations", "999"], `--iterations: ${range}, got "999"`],
      [["--iterations", "10000001"], `--iterations: ${range}, got "10000001"`],
      [["--iterations", "1e4"], `--iterations: ${range}, got "1e4"`],
      [["--iterations", "abc"], `--iterations: ${range}, got "abc"`],
      [["--iterations="], `--iterations: ${range}, got ""`],
      [["--iterations", "1000.0"], `--iterations: ${range}, got "1000.0"`],
      [
        ["--iterations", "9".repeat(30)],
        `--iterations: ${range}, got "${"9".repeat(20)}"`,
      ],
      [["--user="], "--user: the name is empty"],
      [
        ["--user", "a:b"],
        '--user: the name cannot hold ":", which ends it in a users file',
      ],
      [["--user", "a\nb"], "--user: the name cannot hold control characters"],
      [["--user", "a\x7f"], "--user: the name cannot hold control characters"],
      [
        ["--user", "#admin"],
        '--user: a users-file line that starts with "#" is a comment',
      ],
      [
        ["--user", " #admin"],
        '--user: a users-file line that starts with "#" is a comment',
      ],
      [
        ["--user", "é".repeat(128)],
        "--user: the name is longer than 255 bytes (RFC 1929)",
      ],
    ];
    for (const [args, message] of cases) {
      const run = fake(["s3cret\n"]);
      assert.equal(await runHashPassword(args, run.io), 2, args.join(" "));
      assert.equal(run.stderr(), `${PROGRAM}: ${message}\n`, args.join(" "));
      assert.equal(run.stdout(), "");
      assert.equal(run.read(), false, args.join(" "));
    }
  });

  it("runHashPassword() takes names with spaces, dashes and non-ASCII", async () => {
    for (const name of ["-dash", "with space", "zoë", "n".repeat(255)]) {
      const run = fake(["s3cret\n"]);
      assert.equal(
        await runHashPassword([`--user=${name}`, ...LOW], run.io),
        0,
      );
      assert.ok(run.stdout().startsWith(`${name}:pbkdf2-sha256$1000$`), name);
    }
  });

  it("runHashPassword() prints help on stdout", async () => {
    for (const flag of ["--help", "-h"]) {
      const run = fake([]);
      assert.equal(await runHashPassword([flag], run.io), 0);
      assert.equal(run.stdout(), HASH_PASSWORD_HELP);
      assert.ok(HASH_PASSWORD_HELP.includes("Default: 600000"));
      assert.equal(run.stderr(), "");
      assert.equal(run.read(), false);
    }
  });
});

describe("runHashPassword at a terminal", () => {
  const PROMPTS = "Password: \nConfirm password: \n";

  it("runHashPassword() prompts twice with echo off", async () => {
    const run = fake(["s3cret\r", "s3cret\r"], { tty: true });
    assert.equal(await runHashPassword(LOW, run.io), 0);
    assert.equal(run.stderr(), PROMPTS);
    assert.deepEqual(run.rawModes, [true, false]);
    assert.equal(run.released(), true);
    const entry = printed(run.stdout());
    assert.equal(await verifyPassword("s3cret", entry), true);
  });

  it("runHashPassword() takes both lines in one chunk, CR, LF or CRLF ended", async () => {
    for (
      const chunk of [
        "s3cret\rs3cret\r",
        "s3cret\r\ns3cret\r\n",
        "s3cret\ns3cret\n",
      ]
    ) {
      const run = fake([chunk], { tty: true });
      assert.equal(
        await runHashPassword(LOW, run.io),
        0,
        JSON.stringify(chunk),
      );
      assert.equal(await verifyPassword("s3cret", printed(run.stdout())), true);
    }
  });

  it("runHashPassword() edits with Backspace and Ctrl-U", async () => {
    const cases: [string[], string][] = [
      [["s3cx\x7fret\r", "s3cret\r"], "s3cret"],
      [["s3cx\bret\r", "s3\x7f3cret\r"], "s3cret"],
      // Backspace takes a whole multi-byte character.
      [["pä\x7fass\r", "pass\r"], "pass"],
      [["\x7f\x7fok\r", "ok\r"], "ok"],
      [["junk\x15s3cret\r", "s3cret\r"], "s3cret"],
      // Other control keys are not password characters.
      [["s3\x01cret\x1b\r", "s3cret\r"], "s3cret"],
      [["pässwörd✓\r", "pässwörd✓\x04"], "pässwörd✓"],
    ];
    for (const [chunks, password] of cases) {
      const run = fake(chunks, { tty: true });
      assert.equal(
        await runHashPassword(LOW, run.io),
        0,
        JSON.stringify(chunks),
      );
      assert.equal(
        await verifyPassword(password, printed(run.stdout())),
        true,
        JSON.stringify(chunks),
      );
    }
  });

  it("runHashPassword() exits 130 on Ctrl-C and restores the terminal", async () => {
    for (const chunks of [["s3c\x03"], ["s3cret\r", "s3\x03cret\r"]]) {
      const run = fake(chunks, { tty: true });
      assert.equal(await runHashPassword(LOW, run.io), 130);
      assert.equal(run.stdout(), "");
      assert.ok(PROMPTS.startsWith(run.stderr()), run.stderr());
      assert.deepEqual(run.rawModes, [true, false]);
      assert.equal(run.released(), true);
    }
  });

  it("runHashPassword() fails when the confirmation differs", async () => {
    const run = fake(["s3cret\r", "s3cret \r"], { tty: true });
    assert.equal(await runHashPassword(LOW, run.io), 1);
    assert.equal(run.stdout(), "");
    assert.equal(
      run.stderr(),
      `${PROMPTS}${PROGRAM}: the passwords do not match\n`,
    );
    assert.deepEqual(run.rawModes, [true, false]);
  });

  it("runHashPassword() refuses an empty password before asking again", async () => {
    const run = fake(["\r", "\r"], { tty: true });
    assert.equal(await runHashPassword(LOW, run.io), 2);
    assert.ok(
      run.stderr().startsWith(`Password: \n${PROGRAM}: the password is empty:`),
      run.stderr(),
    );
    assert.deepEqual(run.rawModes, [true, false]);
  });

  it("runHashPassword() fails when input ends before Enter", async () => {
    for (const chunks of [[], ["s3cret"], ["s3cret\r", "s3c"]]) {
      const run = fake(chunks, { tty: true });
      assert.equal(await runHashPassword(LOW, run.io), 1);
      assert.ok(
        run.stderr().endsWith(`${PROGRAM}: input ended before a password\n`),
        run.stderr(),
      );
      assert.deepEqual(run.rawModes, [true, false]);
    }
  });

  it("runHashPassword() refuses a terminal it cannot silence", async () => {
    const run = fake(["s3cret\r", "s3cret\r"], { tty: true, rawMode: false });
    assert.equal(await runHashPassword(LOW, run.io), 1);
    assert.equal(
      run.stderr(),
      `${PROGRAM}: cannot turn off echo on this terminal; pipe the password in instead\n`,
    );
    assert.equal(run.read(), false);
  });
});

function spawnHashPassword(
  args: string[],
  input: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const wrapper = new URL("../_helpers/hash_password_main.ts", import.meta.url);
  const { command, args: full } = runtimeCommand(wrapper, args);
  return new Promise((resolve, reject) => {
    const child = spawn(command, full, { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`hash-password did not exit in 20 s: ${stderr}`));
    }, 20_000);
    child.stdout.on("data", (chunk) => stdout += chunk);
    child.stderr.on("data", (chunk) => stderr += chunk);
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(input);
  });
}

describe("hash-password process", () => {
  it("hash-password reads a piped password on this runtime", async () => {
    const result = await spawnHashPassword(
      ["--user", "alice", ...LOW],
      "s3cret\r\n",
    );
    assert.equal(result.stderr, "");
    assert.equal(result.code, 0);
    const { users } = parseUsersFile(result.stdout, "stdout");
    assert.equal(
      await verifyPassword("s3cret", printed(result.stdout.slice(6))),
      true,
    );
    assert.deepEqual([...users.keys()], ["alice"]);
  });

  it("hash-password exits 2 on a usage mistake on this runtime", async () => {
    const result = await spawnHashPassword(["--iterations", "12"], "s3cret\n");
    assert.equal(result.code, 2);
    assert.equal(result.stdout, "");
    assert.equal(
      result.stderr,
      `${PROGRAM}: --iterations: expected an integer from 1000 to 10000000, got "12"\n`,
    );
  });
});
