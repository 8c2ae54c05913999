import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as edge from "../edge.ts";
import * as mod from "../mod.ts";

describe("edge.ts, the entry point for edge runtimes", () => {
  it("exports the very names mod.ts does", () => {
    assert.deepEqual(Object.keys(edge).sort(), Object.keys(mod).sort());
  });

  it("shares everything but the calls that pick a network", () => {
    const own = Object.keys(edge)
      .filter((name) =>
        (edge as Record<string, unknown>)[name] !==
          (mod as Record<string, unknown>)[name]
      )
      .sort();
    assert.deepEqual(own, [
      "bind",
      "connect",
      "connectNative",
      "runtimeNetwork",
      "serve",
      "udpAssociate",
    ]);
  });

  it("serve() without a network rejects, saying a Worker cannot listen", async () => {
    await assert.rejects(edge.serve({ listen: "127.0.0.1:0" }), {
      message:
        "Cannot serve on an edge runtime: a Worker cannot listen for connections; run the server on Deno, Bun or Node",
    });
  });

  it("runtimeNetwork() outside a Worker says to pass { dial } or { network }", async () => {
    await assert.rejects(
      edge.runtimeNetwork(),
      /pass \{ dial \} or \{ network \}/,
    );
  });
});
