/**
 * The `edgesocks` command as a child process on the runtime running the
 * tests: run it to completion, or start the server and drive it with
 * signals while reading its stdout lines and JSON log records.
 *
 * Both go through `sh`, which prints the command's exit status: Deno's
 * `node:child_process` reports a child that exited by itself after a signal
 * as killed by that signal, so the shell is the witness.
 *
 * @module
 */

import { spawn } from "node:child_process";
import process from "node:process";
import { runtimeCommand } from "../runtime.ts";
import { eventually, withTimeout } from "./with_timeout.ts";

const cli = new URL("../../../src/cli/main.ts", import.meta.url);

/**
 * How a finished run ended.
 *
 * @example
 * ```ts
 * import type { CliResult } from "./cli_process.ts";
 * const result: CliResult = { code: 2, stdout: "", stderr: "edgesocks: --bogus\n" };
 * ```
 */
export interface CliResult {
  /** Exit status, as the shell saw it. */
  code: number;
  /** Standard output. */
  stdout: string;
  /** Standard error, without the shell's status line. */
  stderr: string;
}

/**
 * Runs `edgesocks ARGS` to completion, writing `stdin` to it; killed after
 * `ms`.
 *
 * @example
 * ```ts
 * import { runCli } from "./cli_process.ts";
 * const { code, stdout } = await runCli(["--version"]);
 * console.log(code, stdout.startsWith("edgesocks ")); // 0 true
 * ```
 */
export function runCli(
  args: readonly string[],
  options: { stdin?: string; ms?: number } = {},
): Promise<CliResult> {
  const { command, args: full } = runtimeCommand(cli, args);
  // Foreground, so the command keeps the shell's stdin.
  const child = spawn("sh", [
    "-c",
    '"$@"; echo "status $?" >&2',
    "sh",
    command,
    ...full,
  ], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (chunk) => stdout += chunk);
  child.stderr!.on("data", (chunk) => stderr += chunk);
  child.stdin!.on("error", () => {}); // a command that exits early
  child.stdin!.end(options.stdin ?? "");
  const ms = options.ms ?? 10_000;
  const timer = setTimeout(() => child.kill("SIGKILL"), ms);
  return new Promise((resolve, reject) => {
    child.once("close", () => {
      clearTimeout(timer);
      const match = /(^|\n)status (\d+)\n$/.exec(stderr);
      if (match === null) {
        reject(new Error(`edgesocks ${args.join(" ")} died: ${stderr}`));
        return;
      }
      resolve({
        code: Number(match[2]),
        stdout,
        stderr: stderr.slice(0, match.index + match[1]!.length),
      });
    });
  });
}

/**
 * One JSON log record of the CLI.
 *
 * @example
 * ```ts
 * import type { CliRecord } from "./cli_process.ts";
 * const record: CliRecord = { level: "info", msg: "reloaded" };
 * ```
 */
export type CliRecord = Record<string, unknown>;

/**
 * `waitForRecord` over `records()`: the CLI's, or those a test collects
 * from a logger of its own.
 *
 * @example
 * ```ts
 * import { recordWaiter } from "./cli_process.ts";
 * const records = [{ msg: "listening", worker: 0 }];
 * const wait = recordWaiter(() => records);
 * console.log((await wait((r) => r.worker === 0, "worker 0")).msg); // "listening"
 * ```
 */
export function recordWaiter(
  records: () => readonly CliRecord[],
): CliProcess["waitForRecord"] {
  return async (match, what, ms = 5_000) => {
    await eventually(() => records().some(match), ms, what);
    return records().find(match)!;
  };
}

/**
 * A running `edgesocks` server.
 *
 * @example
 * ```ts
 * import { startCli } from "./cli_process.ts";
 * const cli = await startCli(["--listen", "127.0.0.1:0", "--log-format", "json"]);
 * console.log(cli.port > 0); // true
 * console.log(await cli.stop()); // 0
 * ```
 */
export interface CliProcess {
  /** The command's process id (not the shell's). */
  readonly pid: number;
  /** The port of the first `edgesocks listening on 127.0.0.1:PORT` line. */
  readonly port: number;
  /** Standard output so far. */
  stdout(): string;
  /** Standard error so far. */
  stderr(): string;
  /** The JSON records on stderr so far. */
  records(): CliRecord[];
  /** The first stdout match of `pattern`, waiting up to `ms`. */
  waitForStdout(pattern: RegExp, ms?: number): Promise<RegExpExecArray>;
  /** The first record matching `match`, waiting up to `ms`. */
  waitForRecord(
    match: (record: CliRecord) => boolean,
    what: string,
    ms?: number,
  ): Promise<CliRecord>;
  /** Sends `signal` to the command. */
  signal(signal: "SIGHUP" | "SIGTERM" | "SIGINT"): void;
  /** The exit status once it has exited, within `ms`. */
  status(ms?: number): Promise<number>;
  /** SIGTERM, then the exit status; SIGKILL if it does not exit in time. */
  stop(): Promise<number>;
}

/**
 * Starts `edgesocks ARGS` (under `ulimit -n openFiles` when given) and
 * resolves once it prints its first listening address on 127.0.0.1;
 * rejects (and kills it) if it exits or is silent for `ms`.
 *
 * @example
 * ```ts
 * import { startCli } from "./cli_process.ts";
 * async function serveOnce() {
 *   const cli = await startCli(["--listen", "127.0.0.1:0"]);
 *   await cli.stop();
 * }
 * ```
 */
export function startCli(
  args: readonly string[],
  options: { ms?: number; openFiles?: number } = {},
): Promise<CliProcess> {
  const { ms = 10_000, openFiles } = options;
  const { command, args: full } = runtimeCommand(cli, args);
  // `ulimit -n` in the shell binds the command it starts, soft and hard.
  const limit = openFiles === undefined ? "" : `ulimit -n ${openFiles}; `;
  const script =
    `${limit}"$@" & pid=$!; echo "pid $pid" >&2; wait $pid; echo "status $?" >&2`;
  const child = spawn("sh", ["-c", script, "sh", command, ...full], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  let exited = false;
  child.stdout!.on("data", (chunk) => stdout += chunk);
  child.stderr!.on("data", (chunk) => stderr += chunk);
  const status = new Promise<number>((resolve, reject) => {
    child.once("close", () => {
      exited = true;
      const match = /^status (\d+)$/m.exec(stderr);
      match ? resolve(Number(match[1])) : reject(new Error(stderr));
    });
  });
  status.catch(() => {}); // awaited through status()
  const pid = () => Number(/^pid (\d+)$/m.exec(stderr)?.[1] ?? NaN);
  const kill = (signal: NodeJS.Signals) => {
    if (exited || Number.isNaN(pid())) return;
    try {
      process.kill(pid(), signal);
    } catch {
      // Already gone.
    }
  };
  const records = () =>
    stderr.split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as CliRecord);
  const started = eventually(
    () =>
      exited || (!Number.isNaN(pid()) &&
        /listening on 127\.0\.0\.1:\d+\n/.test(stdout)),
    ms,
    `edgesocks ${args.join(" ")} to listen`,
  ).then(() => {
    if (exited) throw new Error(`edgesocks exited: ${stderr}`);
  });
  return started.then(
    (): CliProcess => ({
      pid: pid(),
      port: Number(/listening on 127\.0\.0\.1:(\d+)\n/.exec(stdout)![1]),
      stdout: () => stdout,
      stderr: () => stderr,
      records,
      async waitForStdout(pattern, wait = 5_000) {
        await eventually(
          () => pattern.test(stdout),
          wait,
          `stdout to match ${pattern}: ${stdout}`,
        );
        return pattern.exec(stdout)!;
      },
      waitForRecord: recordWaiter(records),
      signal: kill,
      status: (wait = 10_000) => withTimeout(status, wait, "edgesocks to exit"),
      async stop() {
        kill("SIGTERM");
        try {
          return await withTimeout(status, 10_000, "edgesocks to exit");
        } catch (error) {
          kill("SIGKILL");
          throw error;
        }
      },
    }),
    (error) => {
      kill("SIGKILL");
      child.kill("SIGKILL");
      throw error;
    },
  );
}
