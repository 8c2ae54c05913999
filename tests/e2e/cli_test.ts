import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import * as net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { after, before, describe, it } from "node:test";
import { SocksClient } from "socks";
import { VERSION } from "../../src/version.ts";
import { runtimeCommand } from "../_helpers/runtime.ts";

const cli = new URL("../../src/cli/main.ts", import.meta.url);

function run(
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const { command, args: full } = runtimeCommand(cli, args);
  return new Promise((resolve) => {
    execFile(command, full, { timeout: 15_000 }, (error, stdout, stderr) => {
      const code = error === null
        ? 0
        : typeof error.code === "number"
        ? error.code
        : null;
      resolve({ code, stdout, stderr });
    });
  });
}

// Starts the CLI under a shell that reports its pid and, at the end, its
// exit status: Deno's node:child_process reports a child that exited by
// itself after SIGTERM as killed by the signal, so the shell is the witness.
function start(args: string[]): Promise<Cli> {
  const { command, args: full } = runtimeCommand(cli, args);
  const script =
    '"$@" & pid=$!; echo "pid $pid" >&2; wait $pid; echo "status $?" >&2';
  const child = spawn("sh", ["-c", script, "sh", command, ...full], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  const status = new Promise<number>((resolve, reject) => {
    child.once("exit", () => {
      const match = /^status (\d+)$/m.exec(stderr);
      match ? resolve(Number(match[1])) : reject(new Error(stderr));
    });
  });
  status.catch(() => {}); // awaited by the test that stops it
  child.stderr!.on("data", (chunk) => stderr += chunk);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`CLI did not start: ${stderr}`));
    }, 15_000);
    child.stdout!.on("data", (chunk) => {
      stdout += chunk;
      const port = /listening on 127\.0\.0\.1:(\d+)\n/.exec(stdout)?.[1];
      const pid = /^pid (\d+)$/m.exec(stderr)?.[1];
      if (port === undefined || pid === undefined) return;
      clearTimeout(timer);
      resolve({
        port: Number(port),
        stop: (signal) => process.kill(Number(pid), signal),
        status: () => withTimeout(status, 10_000),
        stderr: () => stderr,
      });
    });
    child.once("exit", () => {
      clearTimeout(timer);
      reject(new Error(`CLI exited: ${stderr}`));
    });
  });
}

interface Cli {
  port: number;
  stop(signal: "SIGTERM" | "SIGINT"): void;
  /** The CLI's exit status, once it has exited. */
  status(): Promise<number>;
  stderr(): string;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

describe("edgesocks CLI", () => {
  let echo: net.Server;
  let echoPort = 0;
  let dir = "";

  before(async () => {
    echo = net.createServer((socket) => socket.pipe(socket));
    await new Promise<void>((resolve) => echo.listen(0, "127.0.0.1", resolve));
    echoPort = (echo.address() as net.AddressInfo).port;
    dir = await mkdtemp(join(tmpdir(), "edgesocks-cli-"));
  });

  after(async () => {
    await new Promise((resolve) => echo.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });

  async function echoThrough(
    port: number,
    auth: { userId: string; password: string },
  ) {
    const { socket } = await SocksClient.createConnection({
      proxy: { host: "127.0.0.1", port, type: 5, ...auth },
      command: "connect",
      destination: { host: "127.0.0.1", port: echoPort },
      timeout: 5000,
    });
    const reply = new Promise<string>((resolve) =>
      socket.once("data", (d) => resolve(String(d)))
    );
    socket.write("ping");
    const answer = await reply;
    socket.destroy();
    return answer;
  }

  it("prints its version and help", async () => {
    const version = await run(["--version"]);
    assert.equal(version.code, 0);
    assert.equal(version.stdout, `edgesocks ${VERSION}\n`);
    const help = await run(["--help"]);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^edgesocks: a SOCKS5 proxy server/);
  });

  it("rejects bad flags with one line naming the flag and exit code 2", async () => {
    const cases: [string[], RegExp][] = [
      [["--bogus"], /--bogus/],
      [["--listen", "nope"], /^edgesocks: --listen: /],
      [["--listen", "127.0.0.1:70000"], /^edgesocks: --listen: /],
      [["--idle-timeout", "soon"], /^edgesocks: --idle-timeout: /],
      [["--listen", "0.0.0.0:0"], /^edgesocks: --no-auth: /],
      [
        ["--users", join(dir, "missing.txt")],
        /^edgesocks: --users .*missing\.txt: cannot read it/,
      ],
    ];
    for (const [args, pattern] of cases) {
      const result = await run(args);
      assert.equal(result.code, 2, `${args.join(" ")}: ${result.stderr}`);
      assert.match(result.stderr, pattern);
      assert.equal(result.stderr.trim().split("\n").length, 1, result.stderr);
    }
  });

  it("names the line of a bad users file", async () => {
    const file = join(dir, "bad_users.txt");
    await writeFile(file, "# users\nalice:s3cret\n\nbob\n");
    const result = await run(["--users", file]);
    assert.equal(result.code, 2);
    assert.match(
      result.stderr,
      /--users .*bad_users\.txt: line 4: expected NAME:SECRET/,
    );
  });

  it("exits with 1 when its address is taken", async () => {
    const busy = net.createServer();
    await new Promise<void>((resolve) => busy.listen(0, "127.0.0.1", resolve));
    const { port } = busy.address() as net.AddressInfo;
    try {
      const result = await run(["--listen", `127.0.0.1:${port}`]);
      assert.equal(result.code, 1, result.stderr);
      assert.match(result.stderr, /^edgesocks: /);
    } finally {
      await new Promise((resolve) => busy.close(resolve));
    }
  });

  it("serves users from a file, proxies, and stops on SIGTERM", async () => {
    const file = join(dir, "users.txt");
    await writeFile(file, "# the team\nalice:s3cret\ncarol:pa:ss\n");
    const { port, stop, status, stderr } = await start([
      "--listen",
      "127.0.0.1:0",
      "--users",
      file,
      "--log-format",
      "json",
    ]);
    try {
      assert.equal(
        await echoThrough(port, { userId: "alice", password: "s3cret" }),
        "ping",
      );
      assert.equal(
        await echoThrough(port, { userId: "carol", password: "pa:ss" }),
        "ping",
      );
      await assert.rejects(
        echoThrough(port, { userId: "alice", password: "hunter2-bad" }),
      );
    } finally {
      stop("SIGTERM");
    }
    assert.equal(await status(), 0);
    const records = stderr().trim().split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line));
    const access = records.filter((r) => r.msg === "access");
    assert.equal(access.length, 2);
    assert.deepEqual(access.map((r) => r.user), ["alice", "carol"]);
    assert.ok(
      records.some((r) =>
        r.msg === "handshake failed" && r.reason === "auth_failed"
      ),
    );
    assert.ok(!stderr().includes("hunter2-bad"), "a password reached the log");
    assert.ok(!stderr().includes("s3cret"), "a password reached the log");
  });
});
