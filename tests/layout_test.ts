import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  findCycle,
  type ImportGraph,
  layerOf,
  readImportGraph,
} from "./_helpers/import_graph.ts";

/**
 * Which layers each layer may import (besides itself). Imports point one way:
 * `cli → server → {auth, rules, net, observe} → wire → bytes`, and
 * `client → {net, wire}`.
 */
const allowed: Readonly<Record<string, readonly string[]>> = {
  "(root)": [],
  wire: ["(root)"],
  rules: ["wire", "(root)"],
  auth: ["wire", "(root)"],
  net: ["wire", "(root)"],
  observe: ["net", "wire", "(root)"],
  client: ["net", "wire", "(root)"],
  server: ["auth", "rules", "net", "observe", "client", "wire", "(root)"],
  cli: [
    "server",
    "auth",
    "rules",
    "net",
    "observe",
    "client",
    "wire",
    "(root)",
  ],
};

const graph: ImportGraph = readImportGraph();

function edges(): Array<[string, string]> {
  return [...graph].flatMap(([from, targets]) =>
    [...targets].map((to): [string, string] => [from, to])
  );
}

describe("src/ layout", () => {
  it("reads every module of src/ and its imports", () => {
    assert.ok(graph.size > 60, `only ${graph.size} modules found`);
    assert.ok(
      graph.get("src/server/serve_connection.ts")?.has(
        "src/server/commands/connect.ts",
      ),
    );
  });

  it("has no import cycle between files, type-only imports included", () => {
    assert.equal(findCycle(graph), null);
  });

  it("has no import cycle between folders", () => {
    const folders: ImportGraph = new Map();
    for (const [from, to] of edges()) {
      const a = layerOf(from), b = layerOf(to);
      if (!folders.has(a)) folders.set(a, new Set());
      if (a !== b) folders.get(a)!.add(b);
    }
    assert.equal(findCycle(folders), null);
  });

  it("keeps each layer's imports pointing down", () => {
    const wrong = edges()
      .filter(([from, to]) => {
        const a = layerOf(from), b = layerOf(to);
        return a !== b && !(allowed[a] ?? []).includes(b);
      })
      .map(([from, to]) => `${from} → ${to}`);
    assert.deepEqual(wrong, []);
  });

  it("lets adapters import only the contract, each other and wire helpers", () => {
    // stream_connection.ts is the contract for runtimes whose sockets are
    // web streams: the client-only Network that the workerd adapter is.
    const contract = ["src/net/connection.ts", "src/net/stream_connection.ts"];
    const wrong = edges()
      .filter(([from, to]) =>
        from.startsWith("src/net/adapters/") &&
        !to.startsWith("src/net/adapters/") &&
        !contract.includes(to) &&
        layerOf(to) !== "wire" && layerOf(to) !== "(root)"
      )
      .map(([from, to]) => `${from} → ${to}`);
    assert.deepEqual(wrong, []);
  });

  it("keeps nothing at the root of src/ but what every layer uses", () => {
    const root = [...graph.keys()].filter((file) => layerOf(file) === "(root)");
    assert.deepEqual(root.sort(), ["src/bytes.ts", "src/version.ts"]);
  });
});

describe("findCycle()", () => {
  it("finds a cycle through three modules", () => {
    const cyclic: ImportGraph = new Map([
      ["a", new Set(["b"])],
      ["b", new Set(["c"])],
      ["c", new Set(["a"])],
    ]);
    assert.deepEqual(findCycle(cyclic), ["a", "b", "c", "a"]);
  });

  it("returns null for a diamond", () => {
    const diamond: ImportGraph = new Map([
      ["a", new Set(["b", "c"])],
      ["b", new Set(["d"])],
      ["c", new Set(["d"])],
      ["d", new Set()],
    ]);
    assert.equal(findCycle(diamond), null);
  });
});
