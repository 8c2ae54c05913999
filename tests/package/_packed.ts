/**
 * Packs the npm package once per test run and installs the tarball into a
 * fresh project, as a user would.
 *
 * On Node the tests run compiled from `npm/esm/tests/`, right after
 * `scripts/build_npm.ts` built `npm/`, so that build is packed. Deno and Bun
 * run the sources, and `npm/` may be missing, stale, or being rebuilt by
 * another run in the same checkout; they build a private copy into the
 * temporary folder instead (about 4 s).
 *
 * @module
 */

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import {
  CONSUMER_MJS,
  CONSUMER_PACKAGE_JSON,
  CONSUMER_TS,
} from "./_consumer.ts";
import { execOk } from "./_exec.ts";

/** The packed and installed package. */
export interface Packed {
  /** The checkout: its node_modules holds deno, bun and typescript. */
  root: string;
  /** The temporary folder holding everything below. */
  tmp: string;
  /** The built package that was packed. */
  packageDir: string;
  /** The `.tgz` file. */
  tarball: string;
  /** The paths `npm pack` put in the tarball. */
  files: string[];
  /**
   * A fresh project with only the tarball installed, and the consumer
   * scripts `consumer.mjs` and `consumer.ts`.
   */
  project: string;
  /** `project/node_modules/edgesocks`. */
  installed: string;
}

const here = fileURLToPath(new URL(".", import.meta.url));
// Compiled, this file is npm/esm/tests/package/_packed.js.
const compiled = import.meta.url.endsWith(".js");
const builtPackage = compiled ? resolve(here, "../../..") : null;
const root = builtPackage === null
  ? resolve(here, "../..")
  : resolve(builtPackage, "..");

let packing: Promise<Packed> | undefined;
let tmp: string | undefined;

/**
 * Builds (Deno, Bun), packs and installs, the first time it is called in a
 * run; later calls get the same result.
 *
 * @example
 * ```ts
 * import { packOnce, removePacked } from "./_packed.ts";
 * const { installed } = await packOnce();
 * console.log(installed.endsWith("node_modules/edgesocks")); // true
 * removePacked();
 * ```
 */
export function packOnce(): Promise<Packed> {
  packing ??= pack();
  return packing;
}

/**
 * Deletes the temporary folder, if {@linkcode packOnce} made one; a later
 * {@linkcode packOnce} packs again (Bun runs every test file in one
 * process, so another file may still want the package).
 *
 * @example
 * ```ts
 * import { removePacked } from "./_packed.ts";
 * removePacked();
 * ```
 */
export function removePacked(): void {
  if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
  tmp = undefined;
  packing = undefined;
}

async function pack(): Promise<Packed> {
  const dir = mkdtempSync(join(tmpdir(), "edgesocks-package-"));
  tmp = dir;
  let packageDir = builtPackage;
  if (packageDir === null) {
    packageDir = join(dir, "npm");
    await execOk(
      join(root, "node_modules/.bin/deno"),
      ["run", "-A", "scripts/build_npm.ts", "--skip-test", "--out", packageDir],
      { cwd: root, timeout: 60_000 },
    );
  }
  // A private cache: nothing can come from an earlier install, and with
  // --offline nothing from the registry either, so a dependency would fail.
  const cache = join(dir, "npm-cache");
  const packed = JSON.parse(
    await execOk(
      "npm",
      ["pack", "--json", "--pack-destination", dir, "--cache", cache],
      { cwd: packageDir },
    ),
  ) as { filename: string; files: { path: string }[] }[];
  const tarball = join(dir, packed[0]!.filename);
  const project = join(dir, "project");
  mkdirSync(project);
  writeFileSync(join(project, "package.json"), CONSUMER_PACKAGE_JSON);
  await execOk(
    "npm",
    [
      "install",
      "--offline",
      "--no-audit",
      "--no-fund",
      "--no-update-notifier",
      "--cache",
      cache,
      tarball,
    ],
    { cwd: project },
  );
  writeFileSync(join(project, "consumer.mjs"), CONSUMER_MJS);
  writeFileSync(join(project, "consumer.ts"), CONSUMER_TS);
  return {
    root,
    tmp: dir,
    packageDir,
    tarball,
    files: packed[0]!.files.map((file) => file.path).sort(),
    project,
    installed: join(project, "node_modules/edgesocks"),
  };
}
