/**
 * Builds the npm package in dnt's layout and tests it on Node:
 *
 * ```sh
 * deno run -A scripts/build_npm.ts [VERSION] [--skip-test]
 * ```
 *
 * - `npm/esm/` ESM JavaScript with source maps, from `mod.ts`, `src/` and
 *   `tests/` (the tree is kept, so Node runs the tests against the output);
 * - `npm/types/` declarations for `mod.ts` and `src/`;
 * - `npm/package.json`, and README.md, LICENSE and CHANGELOG.md when present.
 *
 * VERSION defaults to deno.json's. The script uses only `node:` APIs so that
 * `tsc` checks it like the rest of the code; it runs on Deno because Node 20
 * cannot run `.ts` files.
 *
 * @module
 */

import { spawnSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { dirname, join, relative } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const out = join(root, "npm");

const { version, skipTest } = parseArgs(process.argv.slice(2));

rmSync(out, { recursive: true, force: true });
mkdirSync(out);
compile();
copyTestFixtures();
const hasCli = existsSync(join(root, "src/cli.ts"));
if (hasCli) addShebang(join(out, "esm/src/cli.js"));
writeJson(join(out, "package.json"), packageJson(version, hasCli));
for (const file of ["README.md", "LICENSE", "CHANGELOG.md"]) {
  if (existsSync(join(root, file))) {
    copyFileSync(join(root, file), join(out, file));
  }
}
console.log(`Built npm/ for edgesocks@${version}`);
if (!skipTest) runNodeTests();

function parseArgs(args: string[]): { version: string; skipTest: boolean } {
  let version: string | undefined;
  let skipTest = false;
  for (const arg of args) {
    if (arg === "--skip-test") skipTest = true;
    else if (arg.startsWith("-")) fail(`unknown flag ${arg}`);
    else if (version === undefined) version = arg.replace(/^v/, "");
    else fail(`unexpected argument ${arg}`);
  }
  version ??= JSON.parse(readFileSync(join(root, "deno.json"), "utf8")).version;
  if (
    typeof version !== "string" ||
    !/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/.test(version)
  ) {
    fail(`version must be semver, got ${JSON.stringify(version)}`);
  }
  return { version, skipTest };
}

/** One tsc run: JS for everything, declarations kept only for the library. */
function compile(): void {
  const config = join(out, "tsconfig.build.json");
  writeJson(config, {
    extends: "../tsconfig.json",
    compilerOptions: {
      noEmit: false,
      rootDir: "..",
      outDir: "esm",
      declaration: true,
      declarationDir: "types",
      sourceMap: true,
      // The published package has no .ts files for the maps to point at.
      inlineSources: true,
    },
    include: ["../mod.ts", "../src", "../tests"],
  });
  try {
    run(
      "node",
      [join(root, "node_modules/typescript/bin/tsc"), "-p", config],
      root,
    );
  } finally {
    rmSync(config);
  }
  rmSync(join(out, "types/tests"), { recursive: true, force: true });
  for (const file of walk(join(out, "types"))) {
    writeFileSync(file, jsSpecifiers(readFileSync(file, "utf8")));
  }
}

/**
 * tsc rewrites `.ts` specifiers in JavaScript but not in declarations; TS 5
 * reads either, older consumers only `.js`. Doc comment lines are left alone.
 */
function jsSpecifiers(dts: string): string {
  return dts.replace(
    /^(?!\s*\*)(.*?(?:\bfrom\s+|\bimport\s*\(\s*)["']\.\.?\/[^"']*)(?<!\.d)\.ts(["'])/gm,
    "$1.js$2",
  );
}

/** Non-TypeScript files under tests/ (client scripts, data) sit beside the compiled tests. */
function copyTestFixtures(): void {
  for (const file of walk(join(root, "tests"))) {
    if (file.endsWith(".ts")) continue;
    const target = join(out, "esm", relative(root, file));
    mkdirSync(dirname(target), { recursive: true });
    copyFileSync(file, target);
  }
}

/** npm links `bin` files as executables, which need a shebang to run under Node. */
function addShebang(file: string): void {
  const js = readFileSync(file, "utf8");
  if (!js.startsWith("#!")) {
    writeFileSync(file, `#!/usr/bin/env node\n${js}`);
    // One added line: shift every mapping down by one.
    const map = JSON.parse(readFileSync(`${file}.map`, "utf8"));
    map.mappings = `;${map.mappings}`;
    writeJson(`${file}.map`, map);
  }
  chmodSync(file, 0o755);
}

function packageJson(
  version: string,
  hasCli: boolean,
): Record<string, unknown> {
  return {
    name: "edgesocks",
    version,
    description: "A SOCKS5 server (RFC 1928, RFC 1929) for Deno, Bun and Node",
    type: "module",
    exports: {
      ".": { types: "./types/mod.d.ts", import: "./esm/mod.js" },
    },
    types: "./types/mod.d.ts",
    ...(hasCli ? { bin: { edgesocks: "./esm/src/cli.js" } } : {}),
    files: ["esm/mod.js", "esm/mod.js.map", "esm/src/", "types/"],
    engines: { node: ">=20" },
  };
}

function runNodeTests(): void {
  const tests = walk(join(out, "esm/tests"))
    .filter((file) => file.endsWith("_test.js"))
    .map((file) => relative(out, file))
    .sort();
  if (tests.length === 0) fail("no *_test.js files under npm/esm/tests");
  run("node", ["--enable-source-maps", "--test", ...tests], out);
}

function run(command: string, args: string[], cwd: string): void {
  const { status, error } = spawnSync(command, args, { cwd, stdio: "inherit" });
  if (error) fail(`${command}: ${error.message}`);
  if (status !== 0) process.exit(status ?? 1);
}

function walk(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? walk(path) : [path];
  });
}

function writeJson(file: string, value: unknown): void {
  writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);
}

function fail(message: string): never {
  console.error(`Cannot build npm package: ${message}`);
  process.exit(1);
}
