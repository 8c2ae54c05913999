import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Connection } from "../../../src/net/connection.ts";
import { network, readsIntoOwnBuffer } from "../../../src/net/adapters/node.ts";
import { runtimeName } from "../../_helpers/runtime.ts";

// Deno and Bun have adapters of their own; node:net there is an emulation
// without Node's handles.
const onNodeOnly = {
  skip: runtimeName === "node" ? false : "Node's own adapter",
  timeout: 10_000,
};

async function collect(conn: Connection, total: number): Promise<number[]> {
  const bytes: number[] = [];
  while (bytes.length < total) {
    const chunk = await conn.read();
    if (chunk === null) break;
    bytes.push(...chunk);
  }
  return bytes;
}

describe("Node adapter", () => {
  it(
    "reads accepted and dialled sockets into buffers of their own",
    onNodeOnly,
    async () => {
      const listener = await network.listen({ host: "127.0.0.1", port: 0 });
      try {
        const [accepted, dialled] = await Promise.all([
          listener.accept(),
          network.connect(listener.address),
        ]);
        assert.ok(accepted !== null);
        // Node internals this relies on (the `onread` keys and
        // useUserBuffer()) changed if the accepted side fails here.
        assert.equal(readsIntoOwnBuffer(accepted), true, "accepted socket");
        assert.equal(readsIntoOwnBuffer(dialled), true, "dialled socket");

        // Each chunk is copied out of the reused buffer before the next read.
        const sent = Array.from({ length: 5000 }, (_, i) => i % 251);
        const received = collect(accepted, sent.length);
        for (let i = 0; i < sent.length; i += 1000) {
          await dialled.write(new Uint8Array(sent.slice(i, i + 1000)));
        }
        assert.deepEqual(await received, sent);
        dialled.close();
        accepted.close();
      } finally {
        listener.close();
      }
    },
  );
});
