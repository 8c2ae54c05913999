/**
 * The checkout's root, from the sources or from the compiled tests in
 * `npm/esm/` alike: the nearest folder up that holds `deno.json`.
 *
 * @module
 */

import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root (where `deno.json` and `README.md` are). */
export function repositoryRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "deno.json"))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error("Cannot find the repository root");
    dir = parent;
  }
  return dir;
}
