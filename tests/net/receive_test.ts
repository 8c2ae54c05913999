import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Connection, Receiver } from "../../src/net/connection.ts";
import { Receiving } from "../../src/net/receive.ts";
import { runtimeNetwork } from "../../src/net/runtime_network.ts";
import { runtimeName } from "../_helpers/runtime.ts";
import {
  bytes,
  memoryPair,
  resetError,
  within,
} from "../_helpers/memory_connection.ts";

// What a receiver was given, in order; `ended` settles at the end.
function recorder(options: { stopAfter?: () => void } = {}) {
  const events: unknown[] = [];
  let ended!: () => void;
  const done = new Promise<void>((resolve) => ended = resolve);
  const receiver: Receiver = {
    data(chunk) {
      events.push(new TextDecoder().decode(chunk));
      options.stopAfter?.();
    },
    end(error) {
      events.push(["end", (error as Error | null)?.message ?? null]);
      ended();
    },
  };
  return { events, receiver, done };
}

describe("Receiving", () => {
  it("Receiving reads a connection without receive() in a loop: each chunk, then the end", async () => {
    const [client, server] = memoryPair({ buffer: 4 });
    const { events, receiver, done } = recorder();
    new Receiving(server, receiver).start();
    await client.write(bytes("one"));
    await client.write(bytes("two"));
    await client.closeWrite();
    await within(done, 1000);
    assert.deepEqual(events, ["one", "two", ["end", null]]);
  });

  it("Receiving passes a reset on as the end's error", async () => {
    const [client, server] = memoryPair({ buffer: 4 });
    const { events, receiver, done } = recorder();
    new Receiving(server, receiver).start();
    await client.write(bytes("one"));
    client.reset(resetError());
    await within(done, 1000);
    assert.deepEqual(events, ["one", ["end", "Connection reset by peer"]]);
  });

  it("Receiving stopped from within data() starts no read: the next chunk is read()'s", async () => {
    const [client, server] = memoryPair({ buffer: 4 });
    const { events, receiver } = recorder({
      stopAfter: () => receiving.stop(),
    });
    const receiving = new Receiving(server, receiver);
    receiving.start();
    await client.write(bytes("one"));
    await client.write(bytes("two"));
    assert.deepEqual(await within(server.read(), 1000), bytes("two"));
    assert.deepEqual(events, ["one"]);
    assert.equal(server.reads, 2);
  });

  it("Receiving uses the connection's own receive() when it has one, and hands it back on stop()", () => {
    const given: (Receiver | null)[] = [];
    const conn = {
      receive: (receiver: Receiver | null) => given.push(receiver),
      read: () => assert.fail("read() must not be called"),
    } as unknown as Connection;
    const { receiver } = recorder();
    const receiving = new Receiving(conn, receiver);
    receiving.start();
    receiving.stop();
    receiving.stop();
    assert.deepEqual(given, [receiver, null]);
  });
});

describe("Receiving on this runtime's sockets", () => {
  it("Receiving pushes an accepted socket's chunks, and read() takes over after stop()", async () => {
    const network = await runtimeNetwork();
    const listener = await network.listen({ host: "127.0.0.1", port: 0 });
    const [accepted, dialled] = await Promise.all([
      listener.accept(),
      network.connect(listener.address),
    ]);
    listener.close();
    assert.ok(accepted !== null);
    try {
      // Deno's sockets are read by promise only: Receiving loops there.
      assert.equal(accepted.receive !== undefined, runtimeName !== "deno");
      const { events, receiver } = recorder({
        stopAfter: () => receiving.stop(),
      });
      const receiving = new Receiving(accepted, receiver);
      receiving.start();
      await dialled.write(bytes("one"));
      const deadline = Date.now() + 2000;
      while (events.length === 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      assert.deepEqual(events, ["one"]);
      await dialled.write(bytes("two"));
      await dialled.closeWrite();
      const next = await within(accepted.read(), 1000);
      assert.equal(new TextDecoder().decode(next!), "two");
      assert.equal(await within(accepted.read(), 1000), null);
      assert.deepEqual(events, ["one"]);
    } finally {
      accepted.close();
      dialled.close();
    }
  });
});
