/**
 * Spawning a script on the runtime that runs the tests, so a test of the
 * CLI exercises that runtime's adapter.
 */

import process from "node:process";

/** Which runtime runs this code. */
export const runtimeName: "deno" | "bun" | "node" = "Deno" in globalThis
  ? "deno"
  : "Bun" in globalThis
  ? "bun"
  : "node";

/**
 * The command and arguments that run `script` (a path relative to the
 * repository's `src/` or `tests/`, written with `.ts`) on this runtime. Under
 * Node the tests run compiled, so the `.js` twin is used.
 */
export function runtimeCommand(
  script: URL,
  args: readonly string[] = [],
): { command: string; args: string[] } {
  const compiled = import.meta.url.endsWith(".js");
  const path = compiled
    ? script.pathname.replace(/\.ts$/, ".js")
    : script.pathname;
  const runtimeArgs = runtimeName === "deno"
    ? ["run", "-A", "--unstable-net", path]
    : [path];
  return { command: process.execPath, args: [...runtimeArgs, ...args] };
}
