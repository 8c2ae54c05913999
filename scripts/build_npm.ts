/**
 * Builds the npm package in dnt's layout and tests it on Node:
 *
 * ```sh
 * deno run -A scripts/build_npm.ts [VERSION] [--skip-test] [--out DIR] [--node PATH]…
 * ```
 *
 * - `npm/esm/` ESM JavaScript with source maps, from `mod.ts`, `src/` and
 *   `tests/` (the tree is kept, so Node runs the tests against the output;
 *   `files` keeps the tests out of the tarball);
 * - `npm/types/` declarations for the entry points in deno.json's `exports`
 *   and the modules they reach, nothing else;
 * - `npm/package.json`, and README.md, LICENSE and CHANGELOG.md.
 *
 * `src/version.ts`'s `VERSION` is the one version: the package gets it,
 * deno.json must carry the same, and a VERSION argument (a release tag,
 * `v` optional) must equal it, so a tag cannot publish a package whose
 * `--version` says otherwise.
 *
 * Type errors in `mod.ts` or `src/` fail the build (exit 1). Errors only in
 * `tests/` are printed and the build goes on: the package holds no tests,
 * tsc still emits their JavaScript, and the Node run shows what breaks.
 *
 * The compiled tests run on each `--node PATH` given (the pinned Node lines,
 * from `npm test`), or on the `node` on `PATH`.
 *
 * The script uses only `node:` APIs and TypeScript's so that `tsc` checks it
 * like the rest of the code.
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
import { dirname, join, relative, resolve } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { VERSION } from "../src/version.ts";

/** The export conditions under which `edgesocks` is `edgesocks/edge`. */
const EDGE_CONDITIONS = ["workerd", "worker", "browser"];

const root = fileURLToPath(new URL("..", import.meta.url));
const { version, skipTest, out, nodes } = parseArgs(
  process.argv.slice(2),
);
const entries = exportsOf(join(root, "deno.json"));

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const packageErrors = compile();
copyTestFixtures();
const hasCli = existsSync(join(root, "src/cli/main.ts"));
if (hasCli) addShebang(join(out, "esm/src/cli/main.js"));
writeJson(join(out, "package.json"), packageJson(version, hasCli));
for (const file of ["README.md", "LICENSE", "CHANGELOG.md"]) {
  copyFileSync(join(root, file), join(out, file));
}
if (packageErrors > 0) {
  fail(
    `${packageErrors} type error(s) in mod.ts or src/, see above (the JavaScript is in ${out}/ all the same)`,
  );
}
console.log(`Built ${out}/ for edgesocks@${version}`);
if (!skipTest) { for (const node of nodes) runNodeTests(node); }

function parseArgs(
  args: string[],
): { version: string; skipTest: boolean; out: string; nodes: string[] } {
  let version: string | undefined;
  let skipTest = false;
  let out = join(root, "npm");
  const nodes: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--skip-test") skipTest = true;
    else if (arg === "--out" && args[i + 1] !== undefined) {
      out = resolve(args[++i]!);
    } else if (arg === "--node" && args[i + 1] !== undefined) {
      const node = resolve(args[++i]!);
      if (!existsSync(node)) fail(`--node ${node} does not exist`);
      nodes.push(node);
    } else if (arg.startsWith("-")) fail(`unknown flag ${arg}`);
    else if (version === undefined) version = arg.replace(/^v/, "");
    else fail(`unexpected argument ${arg}`);
  }
  // `out` is deleted first: only ever an earlier build, or nothing.
  if (!relative(out, root).startsWith("..")) {
    fail(`--out ${out} would delete the checkout`);
  }
  if (existsSync(out) && readdirSync(out).length > 0 && !isBuild(out)) {
    fail(`--out ${out} holds something other than an earlier build`);
  }
  if (version !== undefined && version !== VERSION) {
    fail(
      `version ${version} is not src/version.ts's ${VERSION}; change VERSION (and deno.json) first`,
    );
  }
  const denoVersion =
    JSON.parse(readFileSync(join(root, "deno.json"), "utf8")).version;
  if (denoVersion !== VERSION) {
    fail(
      `deno.json's version ${
        JSON.stringify(denoVersion)
      } is not src/version.ts's ${VERSION}`,
    );
  }
  if (!/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/.test(VERSION)) {
    fail(`version must be semver, got ${JSON.stringify(VERSION)}`);
  }
  if (nodes.length === 0) nodes.push("node");
  return { version: VERSION, skipTest, out, nodes };
}

/** Whether `dir` is an earlier build (or one that tsc broke off). */
function isBuild(dir: string): boolean {
  const manifest = join(dir, "package.json");
  if (existsSync(manifest)) {
    return JSON.parse(readFileSync(manifest, "utf8")).name === "edgesocks";
  }
  return readdirSync(dir).every((name) =>
    ["esm", "types", "tsconfig.build.json"].includes(name)
  );
}

/** deno.json's `exports` ("." → "./mod.ts"), the package's entry points. */
function exportsOf(file: string): Map<string, string> {
  const exports = JSON.parse(readFileSync(file, "utf8")).exports;
  const map = typeof exports === "string" ? { ".": exports } : exports;
  if (typeof map !== "object" || map === null) {
    fail("deno.json has no exports");
  }
  return new Map(
    Object.entries(map as Record<string, string>).map((
      [name, path],
    ) => [name, path.replace(/^\.\//, "").replace(/\.ts$/, "")]),
  );
}

/**
 * One tsc run: JS for everything, declarations kept only for the library.
 * Returns the number of type errors outside tests/.
 */
function compile(): number {
  const config = join(out, "tsconfig.build.json");
  // Absolute paths, so the output can go anywhere (`--out`).
  writeJson(config, {
    extends: join(root, "tsconfig.json"),
    compilerOptions: {
      noEmit: false,
      rootDir: root,
      // Found from the config's folder by default, which may be elsewhere.
      typeRoots: [join(root, "node_modules/@types")],
      outDir: join(out, "esm"),
      declaration: true,
      declarationDir: join(out, "types"),
      sourceMap: true,
      // The published package has no .ts files for the maps to point at.
      inlineSources: true,
    },
    include: ["mod.ts", "edge.ts", "src", "tests"].map((path) =>
      join(root, path)
    ),
  });
  let result;
  try {
    result = spawnSync(
      "node",
      [
        join(root, "node_modules/typescript/bin/tsc"),
        "-p",
        config,
        "--pretty",
        "false",
      ],
      { cwd: root, encoding: "utf8" },
    );
  } finally {
    rmSync(config);
  }
  if (result.error) fail(`tsc: ${result.error.message}`);
  process.stdout.write(result.stdout);
  process.stderr.write(result.stderr);
  // 0: clean; 2: errors, every file still emitted; anything else: no output.
  if (result.status !== 0 && result.status !== 2) {
    fail(`tsc exited with ${result.status ?? result.signal}`);
  }
  pruneTypes();
  for (const file of walk(join(out, "types"))) {
    writeFileSync(file, jsSpecifiers(readFileSync(file, "utf8")));
  }
  return errorsOutsideTests(result.stdout);
}

/** Counts tsc diagnostics (`path(line,col): error TS…`) outside `tests/`. */
function errorsOutsideTests(output: string): number {
  let count = 0;
  for (const line of output.split("\n")) {
    const match = /^(?:(.+?)\(\d+,\d+\): )?error TS\d+/.exec(line);
    if (match === null) continue;
    const file = match[1];
    const path = file === undefined ? "" : relative(root, resolve(root, file));
    if (!path.startsWith("tests/")) count++;
  }
  return count;
}

/**
 * Keeps the declarations the entry points reach (the CLI's and the adapters'
 * are not part of the API), so the tarball holds only what a user needs.
 */
function pruneTypes(): void {
  const types = join(out, "types");
  const keep = new Set<string>();
  const pending = [...entries.values()].map((path) =>
    join(types, `${path}.d.ts`)
  );
  for (let file = pending.pop(); file !== undefined; file = pending.pop()) {
    if (keep.has(file)) continue;
    if (!existsSync(file)) fail(`no declarations at ${relative(out, file)}`);
    keep.add(file);
    const { importedFiles } = ts.preProcessFile(
      readFileSync(file, "utf8"),
      true,
      true,
    );
    for (const { fileName } of importedFiles) {
      if (!fileName.startsWith(".")) continue;
      pending.push(
        resolve(dirname(file), fileName).replace(/\.(?:d\.)?[jt]s$/, ".d.ts"),
      );
    }
  }
  for (const file of walk(types)) {
    if (!keep.has(file)) rmSync(file);
  }
  removeEmptyDirectories(types);
}

function removeEmptyDirectories(dir: string): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) removeEmptyDirectories(join(dir, entry.name));
  }
  if (readdirSync(dir).length === 0) rmSync(dir, { recursive: true });
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
  const exports: Record<string, unknown> = {};
  for (const [name, path] of entries) {
    exports[name] = {
      types: `./types/${path}.d.ts`,
      default: `./esm/${path}.js`,
    };
  }
  // Worker bundlers (wrangler's esbuild and others) set these conditions:
  // `edgesocks` then resolves to the entry without `node:` modules.
  const edge = entries.get("./edge");
  const main = entries.get(".");
  if (edge !== undefined && main !== undefined) {
    const js = `./esm/${edge}.js`;
    exports["."] = {
      types: `./types/${main}.d.ts`,
      ...Object.fromEntries(EDGE_CONDITIONS.map((name) => [name, js])),
      default: `./esm/${main}.js`,
    };
  }
  exports["./package.json"] = "./package.json";
  return {
    name: "edgesocks",
    version,
    description: "A SOCKS5 server (RFC 1928, RFC 1929) for Deno, Bun and Node",
    keywords: ["socks", "socks5", "proxy", "server", "deno", "bun", "node"],
    license: "MIT",
    type: "module",
    sideEffects: false,
    main: "./esm/mod.js",
    types: "./types/mod.d.ts",
    exports,
    ...(hasCli ? { bin: { edgesocks: "esm/src/cli/main.js" } } : {}),
    // The tests compiled beside the library stay out of the tarball.
    files: [
      "esm/mod.js",
      "esm/mod.js.map",
      ...(edge === undefined ? [] : [`esm/${edge}.js`, `esm/${edge}.js.map`]),
      "esm/src/",
      "types/",
      "CHANGELOG.md",
    ],
    engines: { node: ">=22" },
  };
}

function runNodeTests(node: string): void {
  const tests = walk(join(out, "esm/tests"))
    .filter((file) => file.endsWith("_test.js"))
    .map((file) => relative(out, file))
    .sort();
  if (tests.length === 0) fail("no *_test.js files under npm/esm/tests");
  const version = spawnSync(node, ["--version"], { encoding: "utf8" }).stdout;
  console.log(`Testing ${out}/ on Node ${version.trim()}`);
  const { status, error } = spawnSync(
    node,
    ["--enable-source-maps", "--test", ...tests],
    { cwd: out, stdio: "inherit" },
  );
  if (error) fail(`${node}: ${error.message}`);
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
