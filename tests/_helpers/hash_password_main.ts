/**
 * Runs `edgesocks hash-password` on the real standard streams, so a test
 * can spawn it on each runtime until src/cli/main.ts dispatches the subcommand.
 *
 * @module
 */

import process from "node:process";
import { runHashPassword } from "../../src/cli/hash_password.ts";

process.exitCode = await runHashPassword(process.argv.slice(2), {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
});
// As src/cli/main.ts does: nothing else should keep the process alive.
process.exit();
