/**
 * Child processes for the package test: commands run to completion with a
 * deadline, and the installed `edgesocks` command kept running until a
 * signal.
 *
 * @module
 */

import { execFile, spawn } from "node:child_process";
import process from "node:process";
import { withTimeout } from "../_helpers/e2e/with_timeout.ts";

/** How a child process ended. */
export interface ExecResult {
  /** Exit status; `null` when it was killed (the deadline passed). */
  code: number | null;
  /** Its standard output. */
  stdout: string;
  /** Its standard error. */
  stderr: string;
}

/** Where and how long {@linkcode exec} runs a command. */
export interface ExecOptions {
  /** The working directory. */
  cwd: string;
  /** Killed after this many milliseconds; default 30 000. */
  timeout?: number;
}

/**
 * The environment children get: PATH and HOME only, so no `npm_config_*`
 * of an enclosing `npm test` and no `*_proxy` variable of the machine
 * changes what npm installs or where curl connects.
 *
 * @example
 * ```ts
 * import { cleanEnv } from "./_exec.ts";
 * console.log(Object.keys(cleanEnv())); // [ "PATH", "HOME" ]
 * ```
 */
export function cleanEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of ["PATH", "HOME"]) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  return env;
}

/**
 * Runs `file` with `args` in `options.cwd`, killing it after the deadline.
 *
 * @example
 * ```ts
 * import { exec } from "./_exec.ts";
 * const { code, stdout } = await exec("/bin/echo", ["hi"], { cwd: "/" });
 * console.log(code, stdout); // 0 "hi\n"
 * ```
 */
export function exec(
  file: string,
  args: readonly string[],
  options: ExecOptions,
): Promise<ExecResult> {
  return new Promise((resolve) => {
    execFile(
      file,
      [...args],
      {
        cwd: options.cwd,
        timeout: options.timeout ?? 30_000,
        env: cleanEnv(),
        encoding: "utf8",
        maxBuffer: 16 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        const code = error === null
          ? 0
          : typeof error.code === "number"
          ? error.code
          : null;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/**
 * Runs `file` and fails with its output unless it exits with 0.
 *
 * @example
 * ```ts
 * import { execOk } from "./_exec.ts";
 * const stdout = await execOk("/bin/echo", ["hi"], { cwd: "/" });
 * console.log(stdout); // "hi\n"
 * ```
 */
export async function execOk(
  file: string,
  args: readonly string[],
  options: ExecOptions,
): Promise<string> {
  const result = await exec(file, args, options);
  if (result.code !== 0) {
    throw new Error(
      `${file} ${
        args.join(" ")
      } exited with ${result.code}:\n${result.stdout}${result.stderr}`,
    );
  }
  return result.stdout;
}

/**
 * A server command started by {@linkcode startServerCommand}.
 *
 * @example
 * ```ts
 * import type { ServerCommand } from "./_exec.ts";
 * function stopIt(server: ServerCommand) {
 *   server.stop("SIGTERM");
 *   return server.status();
 * }
 * ```
 */
export interface ServerCommand {
  /** The port of its first `listening on 127.0.0.1:PORT` line. */
  port: number;
  /** Sends `signal` to the command itself (not to the shell). */
  stop(signal: "SIGTERM" | "SIGINT" | "SIGKILL"): void;
  /** Its exit status, once it has exited; rejects after 10 s. */
  status(): Promise<number>;
  /** Its standard error so far. */
  stderr(): string;
}

/**
 * Starts `file` under a shell that reports its pid and, at the end, its
 * exit status (Deno's node:child_process reports a child that exits by
 * itself after SIGTERM as killed by the signal, so the shell is the
 * witness), and waits for it to print `listening on 127.0.0.1:PORT`.
 *
 * @example
 * ```ts
 * import { startServerCommand } from "./_exec.ts";
 * const server = await startServerCommand(
 *   "node_modules/.bin/edgesocks",
 *   ["--listen", "127.0.0.1:0"],
 *   { cwd: "." },
 * );
 * server.stop("SIGTERM");
 * console.log(await server.status()); // 0
 * ```
 */
export function startServerCommand(
  file: string,
  args: readonly string[],
  options: ExecOptions,
): Promise<ServerCommand> {
  const script =
    '"$@" & pid=$!; echo "pid $pid" >&2; wait $pid; echo "status $?" >&2';
  const child = spawn("sh", ["-c", script, "sh", file, ...args], {
    cwd: options.cwd,
    env: cleanEnv(),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  const exited = new Promise<number>((resolve, reject) => {
    child.once("exit", () => {
      const match = /^status (\d+)$/m.exec(stderr);
      match ? resolve(Number(match[1])) : reject(new Error(stderr));
    });
  });
  exited.catch(() => {}); // awaited through status()
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      const pid = /^pid (\d+)$/m.exec(stderr)?.[1];
      try {
        if (pid !== undefined) process.kill(Number(pid), "SIGKILL");
      } catch {
        // It exited in the meantime.
      }
      reject(new Error(`${file} did not start: ${stderr}`));
    }, options.timeout ?? 15_000);
    // The pid (stderr) and the port (stdout) arrive in either order.
    const check = () => {
      const port = /listening on 127\.0\.0\.1:(\d+)\n/.exec(stdout)?.[1];
      const pid = /^pid (\d+)$/m.exec(stderr)?.[1];
      if (port === undefined || pid === undefined) return;
      clearTimeout(timer);
      resolve({
        port: Number(port),
        stop: (signal) => process.kill(Number(pid), signal),
        status: () => withTimeout(exited, 10_000, `${file} to exit`),
        stderr: () => stderr,
      });
    };
    child.stdout!.on("data", (chunk) => {
      stdout += chunk;
      check();
    });
    child.stderr!.on("data", (chunk) => {
      stderr += chunk;
      check();
    });
    child.once("exit", () => {
      clearTimeout(timer);
      reject(new Error(`${file} exited before listening: ${stderr}`));
    });
  });
}
