import assert from "node:assert/strict";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { after, before, describe, it } from "node:test";
import { VERSION } from "../../src/version.ts";
import {
  type HttpServer,
  startHttpServer,
} from "../_helpers/e2e/http_server.ts";
import { consumerTsconfig, PAGE } from "./_consumer.ts";
import { exec, startServerCommand } from "./_exec.ts";
import { declarationGraph, importGraph } from "./_import_graph.ts";
import { packOnce, removePacked } from "./_packed.ts";

// Whichever test runs first builds, packs and installs (up to ~15 s).
const SLOW = { timeout: 120_000 };

const ENTRY_JS = ["esm/mod.js", "esm/src/wire/mod.js", "esm/edge.js"];
const ADAPTERS = [
  "esm/src/client/native_deno.js",
  "esm/src/client/native_node.js",
  "esm/src/net/adapters/bun.js",
  "esm/src/net/adapters/deno.js",
  "esm/src/net/adapters/node.js",
];

/** The import graph of one installed entry, and its files as package paths. */
async function installedGraph(entry: string) {
  const { installed } = await packOnce();
  return {
    graph: importGraph([join(installed, entry)]),
    local: (files: string[]) => files.map((file) => relative(installed, file)),
  };
}

function readJson(file: string): Record<string, unknown> {
  return JSON.parse(readFileSync(file, "utf8"));
}

describe("the packed npm package", () => {
  let web: HttpServer | undefined;

  before(async () => {
    web = await startHttpServer("127.0.0.1", { "/": PAGE });
  });

  after(async () => {
    await web?.close();
    removePacked();
  });

  it(
    "has a package.json with the one version, an exports map and no dependencies",
    SLOW,
    async () => {
      const { installed } = await packOnce();
      assert.deepEqual(readJson(join(installed, "package.json")), {
        name: "edgesocks",
        version: VERSION,
        description:
          "A SOCKS5 server (RFC 1928, RFC 1929) for Deno, Bun and Node",
        keywords: ["socks", "socks5", "proxy", "server", "deno", "bun", "node"],
        license: "MIT",
        type: "module",
        sideEffects: false,
        main: "./esm/mod.js",
        types: "./types/mod.d.ts",
        exports: {
          ".": {
            types: "./types/mod.d.ts",
            workerd: "./esm/edge.js",
            worker: "./esm/edge.js",
            browser: "./esm/edge.js",
            default: "./esm/mod.js",
          },
          "./wire": {
            types: "./types/src/wire/mod.d.ts",
            default: "./esm/src/wire/mod.js",
          },
          "./edge": {
            types: "./types/edge.d.ts",
            default: "./esm/edge.js",
          },
          "./package.json": "./package.json",
        },
        bin: { edgesocks: "esm/src/cli/main.js" },
        files: [
          "esm/mod.js",
          "esm/mod.js.map",
          "esm/edge.js",
          "esm/edge.js.map",
          "esm/src/",
          "types/",
          "CHANGELOG.md",
        ],
        engines: { node: ">=22" },
      });
    },
  );

  it("installs from the tarball with nothing else to fetch", SLOW, async () => {
    const { project } = await packOnce();
    assert.deepEqual(
      readdirSync(join(project, "node_modules")).sort(),
      [".bin", ".package-lock.json", "edgesocks"],
    );
  });

  it(
    "holds the entry points, the modules they load, their maps and declarations, and nothing else",
    SLOW,
    async () => {
      const { files, installed } = await packOnce();
      // The CLI's worker threads start from a module of their own.
      const cli = ["esm/src/cli/main.js", "esm/src/cli/worker_main.js"];
      const graph = importGraph(
        [...ENTRY_JS, ...cli].map((file) => join(installed, file)),
      );
      const types = declarationGraph(
        ["types/mod.d.ts", "types/src/wire/mod.d.ts", "types/edge.d.ts"].map((
          file,
        ) => join(installed, file)),
      );
      // Type-only modules (connection.ts) load nothing at run time, but their
      // empty JavaScript twin ships beside the declarations users see.
      const twins = types.map((file) =>
        file.replace("/types/", "/esm/").replace(/\.d\.ts$/, ".js")
      );
      const js = [...new Set([...graph.static, ...graph.dynamic, ...twins])];
      const expected = [
        ...js,
        ...js.map((file) => `${file}.map`),
        ...types,
      ].map((file) => relative(installed, file));
      expected.push("CHANGELOG.md", "LICENSE", "README.md", "package.json");
      assert.deepEqual(files, expected.sort());
      // Maps carry their sources: the package has no .ts files to point at.
      for (const file of js) {
        const map = readJson(`${file}.map`);
        assert.equal((map.sourcesContent as string[]).length, 1, file);
        assert.ok((map.sourcesContent as string[])[0]!.length > 0, file);
      }
    },
  );

  it(
    "loads no adapter, CLI or node: module for edgesocks/wire",
    SLOW,
    async () => {
      const { installed } = await packOnce();
      const graph = importGraph([join(installed, "esm/src/wire/mod.js")]);
      assert.deepEqual(graph.external, []);
      assert.deepEqual(graph.dynamicTargets, []);
      assert.deepEqual(
        graph.static
          .map((file) => relative(installed, file))
          .filter((file) => !file.startsWith("esm/src/wire/")),
        ["esm/src/bytes.js"],
      );
    },
  );

  it(
    "loads no node: module, runtime adapter or CLI for edgesocks/edge",
    SLOW,
    async () => {
      const { graph, local } = await installedGraph("esm/edge.js");
      // The Worker's socket module, which workerd.js loads with import()
      // on its first dial.
      assert.deepEqual(graph.external, ["cloudflare:sockets"]);
      assert.deepEqual(graph.dynamicExternal, []);
      assert.deepEqual(local(graph.dynamicTargets), []);
      assert.deepEqual(
        local(graph.static).filter((file) =>
          /\/(adapters|cli)\/|runtime_network|native_/.test(file)
        ),
        ["esm/src/net/adapters/workerd.js"],
      );
    },
  );

  it(
    "reaches the adapters from edgesocks only through import()",
    SLOW,
    async () => {
      const { graph, local } = await installedGraph("esm/mod.js");
      assert.deepEqual(graph.external, []);
      assert.deepEqual(
        local(graph.static).filter((file) => /\/(adapters|cli)\b/.test(file)),
        [],
      );
      assert.deepEqual(local(graph.dynamicTargets), ADAPTERS);
    },
  );

  it("runs `npx edgesocks --version`", SLOW, async () => {
    const { project } = await packOnce();
    // `--` keeps npx from taking --version for itself.
    const result = await exec("npx", ["--no", "--", "edgesocks", "--version"], {
      cwd: project,
    });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, `edgesocks ${VERSION}\n`);
  });

  it(
    "serves curl from the installed command and exits 0 on SIGTERM",
    SLOW,
    async () => {
      const { project } = await packOnce();
      // The link npx runs, started directly: `npm exec` kills its shell on
      // SIGTERM and leaves the server running, orphaned.
      const server = await startServerCommand(
        join(project, "node_modules/.bin/edgesocks"),
        ["--listen", "127.0.0.1:0", "--log-format", "json"],
        { cwd: project },
      );
      try {
        const result = await exec("curl", [
          "--silent",
          "--show-error",
          "--max-time",
          "10",
          "--socks5-hostname",
          `127.0.0.1:${server.port}`,
          `http://127.0.0.1:${web!.port}/`,
        ], { cwd: project, timeout: 15_000 });
        assert.equal(result.stderr, "");
        assert.equal(result.code, 0);
        assert.equal(result.stdout, PAGE);
      } finally {
        server.stop("SIGTERM");
      }
      assert.equal(await server.status(), 0, server.stderr());
      assert.match(server.stderr(), /"msg":"access".*"reply":0/);
    },
  );

  // The same installed package, imported by each runtime's resolver.
  const consumers = {
    node: (_root: string) => ({ file: "node", args: ["consumer.mjs"] }),
    bun: (root: string) => ({
      file: join(root, "node_modules/.bin/bun"),
      args: ["consumer.mjs"],
    }),
    deno: (root: string) => ({
      file: join(root, "node_modules/.bin/deno"),
      args: ["run", "-A", "--node-modules-dir=manual", "consumer.mjs"],
    }),
  };
  for (const [runtime, command] of Object.entries(consumers)) {
    it(
      `serves with serve() and the codecs from an ESM consumer on ${runtime}`,
      SLOW,
      async () => {
        const { project, root } = await packOnce();
        const { file, args } = command(root);
        const result = await exec(file, [...args, String(web!.port)], {
          cwd: project,
          timeout: 20_000,
        });
        assert.equal(result.code, 0, result.stderr);
        assert.deepEqual(JSON.parse(result.stdout), {
          runtime,
          version: VERSION,
          sameAdapter: true,
          method: 0,
          reply: 0,
          status: "HTTP/1.1 200 OK",
          body: PAGE,
        });
      },
    );
  }

  for (const flavour of ["node", "web"] as const) {
    it(
      `type-checks a TypeScript consumer (NodeNext, ${flavour} types)`,
      SLOW,
      async () => {
        const { project, root } = await packOnce();
        const config = join(project, `tsconfig.${flavour}.json`);
        writeFileSync(
          config,
          consumerTsconfig(flavour, join(root, "node_modules/@types")),
        );
        const result = await exec(
          "node",
          [join(root, "node_modules/typescript/bin/tsc"), "-p", config],
          { cwd: project, timeout: 60_000 },
        );
        assert.equal(result.stdout, "");
        assert.equal(result.code, 0);
      },
    );
  }
});
