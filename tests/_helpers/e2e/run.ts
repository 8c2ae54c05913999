/**
 * Running an external client (curl, Python) with a deadline.
 *
 * @module
 */

import { execFile } from "node:child_process";
import process from "node:process";

/** How a child process ended. */
export interface RunResult {
  /** Exit status; `null` when it was killed (the deadline passed). */
  code: number | null;
  /** Its standard output. */
  stdout: string;
  /** Its standard error. */
  stderr: string;
}

/**
 * Runs `file` with `args`, killing it after `ms`. The environment keeps only
 * PATH and HOME, so no `*_proxy` variable of the machine sends a client
 * elsewhere or bypasses the proxy under test.
 *
 * @example
 * ```ts
 * import { run } from "./run.ts";
 * const { code, stdout } = await run("/bin/echo", ["hi"]);
 * console.log(code, stdout); // 0 "hi\n"
 * ```
 */
export function run(
  file: string,
  args: readonly string[],
  ms = 15_000,
): Promise<RunResult> {
  const env: Record<string, string> = {};
  for (const name of ["PATH", "HOME"]) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  return new Promise((resolve) => {
    execFile(
      file,
      [...args],
      { timeout: ms, env, encoding: "utf8" },
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
