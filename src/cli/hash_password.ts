/**
 * `edgesocks hash-password [--user NAME] [--iterations N]`: reads a
 * password from stdin and prints the users-file entry for it, the same on
 * Deno, Bun and Node.
 *
 * At a terminal it prompts on stderr, reads with echo off, and asks again
 * to confirm; from a pipe it reads all of stdin and drops one trailing line
 * end, so `printf '%s\n' "$PW" | edgesocks hash-password` and
 * `printf '%s' "$PW" | …` give the same password.
 *
 * Exit codes: 0 printed; 1 the two entries differ or input ended early;
 * 2 a usage mistake or a password the server could never accept; 130
 * Ctrl-C at the prompt.
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  DEFAULT_ITERATIONS,
  hashPassword,
  MAX_ITERATIONS,
  MIN_ITERATIONS,
} from "../auth/credentials.ts";

/**
 * What {@linkcode runHashPassword} reads and writes: `process.stdin`,
 * `process.stdout` and `process.stderr` on every runtime, or fakes in tests.
 *
 * @example
 * ```ts
 * import process from "node:process";
 * import type { HashPasswordIo } from "./hash_password.ts";
 * const io: HashPasswordIo = {
 *   stdin: process.stdin,
 *   stdout: process.stdout,
 *   stderr: process.stderr,
 * };
 * ```
 */
export interface HashPasswordIo {
  /** Chunks of input; a terminal also has `isTTY` and `setRawMode`. */
  stdin: AsyncIterable<Uint8Array | string> & {
    readonly isTTY?: boolean | undefined;
    setRawMode?: ((raw: boolean) => unknown) | undefined;
  };
  /** Where the entry goes. */
  stdout: { write(text: string): unknown };
  /** Prompts, warnings and errors. */
  stderr: { write(text: string): unknown };
}

/**
 * The `hash-password --help` text.
 *
 * @example
 * ```ts
 * import { HASH_PASSWORD_HELP } from "./hash_password.ts";
 * console.log(HASH_PASSWORD_HELP.includes("--iterations")); // true
 * ```
 */
export const HASH_PASSWORD_HELP: string =
  `Usage: edgesocks hash-password [--user NAME] [--iterations N]

Reads a password from stdin and prints a PBKDF2-SHA256 entry for a users
file. At a terminal it asks twice with echo off; from a pipe it reads all of
stdin and drops one trailing newline.

Options:
  --user NAME       Print NAME:ENTRY, a whole users-file line.
  --iterations N    PBKDF2 iterations, ${MIN_ITERATIONS} to ${MAX_ITERATIONS}. Default: ${DEFAULT_ITERATIONS}
  -h, --help        Show this help.
`;

const PROGRAM = "edgesocks hash-password";
// RFC 1929: ULEN and PLEN are one byte each, so longer never arrives.
const MAX_FIELD_BYTES = 255;
// Reading stops here: anything longer is refused anyway.
const MAX_INPUT_BYTES = 4096;

const encoder = new TextEncoder();
const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

class Exit extends Error {
  readonly code: number;
  constructor(code: number, message: string) {
    super(message);
    this.code = code;
  }
}

/**
 * Runs `edgesocks hash-password` with the arguments after the subcommand
 * and returns the exit code. Messages go to `io.stderr` as one line each.
 *
 * @example
 * ```ts
 * import { runHashPassword } from "./hash_password.ts";
 * async function* stdin() {
 *   yield "s3cret\n";
 * }
 * const code = await runHashPassword(["--user", "alice", "--iterations", "1000"], {
 *   stdin: stdin(),
 *   stdout: { write: (text: string) => console.log(text.trimEnd()) }, // alice:pbkdf2-sha256$1000$…
 *   stderr: { write: () => {} },
 * });
 * console.log(code); // 0
 * ```
 */
export async function runHashPassword(
  args: string[],
  io: HashPasswordIo,
): Promise<number> {
  try {
    const options = parseFlags(args);
    if (options === "help") {
      io.stdout.write(HASH_PASSWORD_HELP);
      return 0;
    }
    const password = io.stdin.isTTY === true
      ? await promptTwice(io)
      : checkPassword(stripLineEnd(await readAll(io.stdin)));
    const entry = await hashPassword(password, {
      iterations: options.iterations,
    });
    io.stdout.write(
      options.user === undefined ? `${entry}\n` : `${options.user}:${entry}\n`,
    );
    return 0;
  } catch (error) {
    if (!(error instanceof Exit)) throw error;
    if (error.message !== "") io.stderr.write(`${PROGRAM}: ${error.message}\n`);
    return error.code;
  }
}

function parseFlags(
  args: string[],
): { user: string | undefined; iterations: number } | "help" {
  const { tokens } = parseArgs({
    args,
    options: {
      user: { type: "string" },
      iterations: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    strict: false,
    tokens: true,
  });
  const values = new Map<string, string | undefined>();
  for (const token of tokens) {
    if (token.kind === "positional") {
      throw usage(`unexpected argument "${token.value}"`);
    }
    if (token.kind === "option-terminator") continue;
    const flag = token.rawName;
    if (token.name !== "user" && token.name !== "iterations") {
      if (token.name !== "help") throw usage(`unknown flag ${flag}`);
      if (token.value !== undefined) throw usage(`${flag} takes no value`);
      return "help";
    }
    // Without `=`, a flag where the value should be is a forgotten value.
    if (
      token.value === undefined ||
      (!token.inlineValue && token.value.startsWith("-"))
    ) {
      throw usage(`${flag} needs a value`);
    }
    if (values.has(token.name)) throw usage(`${flag} is given twice`);
    values.set(token.name, token.value);
  }
  const user = values.get("user");
  if (user !== undefined) checkName(user);
  const text = values.get("iterations");
  let iterations = DEFAULT_ITERATIONS;
  if (text !== undefined) {
    iterations = /^[0-9]{1,9}$/.test(text) ? Number(text) : NaN;
    if (!(iterations >= MIN_ITERATIONS && iterations <= MAX_ITERATIONS)) {
      throw usage(
        `--iterations: expected an integer from ${MIN_ITERATIONS} to ${MAX_ITERATIONS}, got "${
          text.slice(0, 20)
        }"`,
      );
    }
  }
  return { user, iterations };
}

// The name must survive a round trip through a users file and RFC 1929.
function checkName(name: string): void {
  if (name === "") throw usage("--user: the name is empty");
  if (name.includes(":")) {
    throw usage(
      '--user: the name cannot hold ":", which ends it in a users file',
    );
  }
  if (/\p{Cc}/u.test(name)) {
    throw usage("--user: the name cannot hold control characters");
  }
  if (name.trimStart().startsWith("#")) {
    throw usage('--user: a users-file line that starts with "#" is a comment');
  }
  if (encoder.encode(name).length > MAX_FIELD_BYTES) {
    throw usage(
      `--user: the name is longer than ${MAX_FIELD_BYTES} bytes (RFC 1929)`,
    );
  }
}

function checkPassword(bytes: Uint8Array): string {
  if (bytes.length === 0) {
    // A hash of nothing keeps nobody out: anyone who knows the name logs in.
    throw usage(
      'the password is empty: a hash of it protects nothing; write "NAME:" in the users file for a name without a password',
    );
  }
  if (bytes.length > MAX_FIELD_BYTES) {
    throw usage(
      `the password is longer than ${MAX_FIELD_BYTES} bytes (RFC 1929), so no client could send it`,
    );
  }
  try {
    return strictUtf8.decode(bytes);
  } catch {
    // The server decodes what clients send as UTF-8, so other bytes could never match.
    throw usage("the password is not valid UTF-8");
  }
}

async function readAll(
  stdin: AsyncIterable<Uint8Array | string>,
): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let length = 0;
  for await (const chunk of stdin) {
    const bytes = typeof chunk === "string" ? encoder.encode(chunk) : chunk;
    chunks.push(bytes);
    length += bytes.length;
    if (length > MAX_INPUT_BYTES) break;
  }
  const all = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    all.set(chunk, offset);
    offset += chunk.length;
  }
  return all;
}

// `echo`, `printf '%s\n'` and files end with one line end that is not part
// of the password; only one, so a password may itself end in a newline.
function stripLineEnd(bytes: Uint8Array): Uint8Array {
  if (bytes.at(-1) !== 0x0a) return bytes;
  return bytes.subarray(0, bytes.at(-2) === 0x0d ? -2 : -1);
}

async function promptTwice(io: HashPasswordIo): Promise<string> {
  const setRawMode = io.stdin.setRawMode;
  if (setRawMode === undefined) {
    throw new Exit(
      1,
      "cannot turn off echo on this terminal; pipe the password in instead",
    );
  }
  const input = new HiddenInput(io.stdin[Symbol.asyncIterator]());
  setRawMode.call(io.stdin, true);
  try {
    const first = await prompt(io, input, "Password: ");
    const password = checkPassword(first);
    const again = await prompt(io, input, "Confirm password: ");
    if (again.length !== first.length || again.some((b, i) => b !== first[i])) {
      throw new Exit(1, "the passwords do not match");
    }
    return password;
  } finally {
    setRawMode.call(io.stdin, false);
    input.close();
  }
}

async function prompt(
  io: HashPasswordIo,
  input: HiddenInput,
  text: string,
): Promise<Uint8Array> {
  io.stderr.write(text);
  const line = await input.readLine();
  // The terminal echoed nothing, not even the Enter.
  io.stderr.write("\n");
  if (line === "interrupt") throw new Exit(130, "");
  if (line === "end") throw new Exit(1, "input ended before a password");
  return line;
}

/** Lines typed at a terminal in raw mode: no echo, a little editing. */
class HiddenInput {
  #chunks: AsyncIterator<Uint8Array | string>;
  #chunk: Uint8Array = new Uint8Array(0);
  #offset = 0;
  #afterCr = false;

  constructor(chunks: AsyncIterator<Uint8Array | string>) {
    this.#chunks = chunks;
  }

  async readLine(): Promise<Uint8Array | "interrupt" | "end"> {
    const line: number[] = [];
    for (;;) {
      const byte = await this.#next();
      const afterCr = this.#afterCr;
      this.#afterCr = byte === 0x0d;
      if (byte === null) return "end";
      // Enter sends CR; a pasted CRLF must not end the next line at once.
      if (byte === 0x0a && afterCr) continue;
      switch (byte) {
        case 0x03: // Ctrl-C: raw mode turned off the terminal's SIGINT
          return "interrupt";
        case 0x0d:
        case 0x0a:
        case 0x04: // Ctrl-D
          return Uint8Array.from(line);
        case 0x7f:
        case 0x08: { // Backspace drops one character, all its UTF-8 bytes
          let dropped;
          do dropped = line.pop(); while (
            dropped !== undefined && (dropped & 0xc0) === 0x80
          );
          break;
        }
        case 0x15: // Ctrl-U
          line.length = 0;
          break;
        default:
          if (byte >= 0x20 && line.length <= MAX_INPUT_BYTES) line.push(byte);
      }
    }
  }

  close(): void {
    // Ends the stream's iteration (on Node, destroys process.stdin) so an
    // idle terminal does not keep the process alive.
    this.#chunks.return?.()?.catch(() => {});
  }

  async #next(): Promise<number | null> {
    while (this.#offset >= this.#chunk.length) {
      const next = await this.#chunks.next();
      if (next.done) return null;
      this.#chunk = typeof next.value === "string"
        ? encoder.encode(next.value)
        : next.value;
      this.#offset = 0;
    }
    return this.#chunk[this.#offset++] ?? null;
  }
}

function usage(message: string): Exit {
  return new Exit(2, message);
}
