import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Connection } from "../../src/net/connection.ts";
import { relay, type RelayResult } from "../../src/net/relay.ts";
import {
  bytes,
  type MemoryConnection,
  memoryPair,
  readBytes,
  readToEnd,
  resetError,
  sleep,
  within,
} from "../_helpers/memory_connection.ts";

interface Tunnel {
  /** The client application's end. */
  app: MemoryConnection;
  /** The server's end of the client connection. */
  client: MemoryConnection;
  /** The server's end of the outbound connection. */
  target: MemoryConnection;
  /** The destination's end. */
  destination: MemoryConnection;
}

function tunnel(buffers: { client?: number; target?: number } = {}): Tunnel {
  const [app, client] = memoryPair({
    a: { host: "127.0.0.1", port: 50000 },
    b: { host: "127.0.0.1", port: 1080 },
    buffer: buffers.client ?? 0,
  });
  const [target, destination] = memoryPair({
    a: { host: "192.0.2.10", port: 40000 },
    b: { host: "198.51.100.7", port: 80 },
    buffer: buffers.target ?? 0,
  });
  return { app, client, target, destination };
}

function settled(promise: Promise<unknown>): Promise<boolean> {
  return Promise.race([
    promise.then(() => true, () => true),
    sleep(0).then(() => false),
  ]);
}

// A connection whose runtime forwards by itself: `forwardTo` copies with
// read() and write() (as a runtime would from its callbacks) and records
// that it was used.
function forwarding(conn: MemoryConnection, used: string[]): Connection {
  return {
    localAddress: conn.localAddress,
    remoteAddress: conn.remoteAddress,
    read: () => conn.read(),
    write: (data) => conn.write(data),
    closeWrite: () => conn.closeWrite(),
    close: () => conn.close(),
    forwardTo(to, onChunk) {
      used.push(`${conn.localAddress.port}`);
      return (async () => {
        for (let chunk = await conn.read(); chunk; chunk = await conn.read()) {
          onChunk(chunk.length);
          await to.write(chunk);
        }
        await to.closeWrite();
      })();
    },
  };
}

describe("relay", () => {
  it("relay() lets a runtime forward by itself, counting what it reports", async () => {
    const { app, client, target, destination } = tunnel();
    const used: string[] = [];
    const relayed = relay(forwarding(client, used), forwarding(target, used));
    void app.write(bytes("hello"));
    assert.deepEqual(await readBytes(destination, 5), [...bytes("hello")]);
    void destination.write(bytes("world!!"));
    assert.deepEqual(await readBytes(app, 7), [...bytes("world!!")]);
    await app.closeWrite();
    await destination.closeWrite();
    const result = await within(relayed, 1000, "relay()");
    assert.deepEqual(result, { up: 5, down: 7, end: "closed" });
    assert.deepEqual(used.sort(), ["1080", "40000"]);
  });

  it("relay() does not forward a side whose read is already under way", async () => {
    const { app, client, target, destination } = tunnel();
    const used: string[] = [];
    const clientRead = client.read();
    const relayed = relay(forwarding(client, used), forwarding(target, used), {
      clientRead,
    });
    void app.write(bytes("first"));
    assert.deepEqual(await readBytes(destination, 5), [...bytes("first")]);
    await app.closeWrite();
    await destination.closeWrite();
    const result = await within(relayed, 1000, "relay()");
    assert.equal(result.up, 5);
    // Only the destination's side was forwarded by the "runtime".
    assert.deepEqual(used, ["40000"]);
  });

  it("relay() copies bytes both ways and counts them", async () => {
    const { app, client, target, destination } = tunnel();
    const relayed = relay(client, target);
    void app.write(bytes("hello"));
    assert.deepEqual(await readBytes(destination, 5), [...bytes("hello")]);
    void destination.write(bytes("world!!"));
    assert.deepEqual(await readBytes(app, 7), [...bytes("world!!")]);
    void app.write(bytes("again"));
    assert.deepEqual(await readBytes(destination, 5), [...bytes("again")]);
    await app.closeWrite();
    await destination.closeWrite();
    assert.deepEqual(await readToEnd(destination), []);
    assert.deepEqual(await readToEnd(app), []);
    const result = await within(relayed, 1000, "relay()");
    assert.deepEqual(result, { up: 10, down: 7, end: "closed" });
    assert.equal(client.closed, true);
    assert.equal(target.closed, true);
  });

  it("relay() passes the client's half-close on and keeps relaying down", async () => {
    const { app, client, target, destination } = tunnel();
    const relayed = relay(client, target);
    void app.write(bytes("req"));
    await app.closeWrite();
    assert.deepEqual(await readToEnd(destination), [...bytes("req")]);
    assert.equal(target.writeClosed, true);
    assert.equal(client.writeClosed, false);
    assert.equal(await settled(relayed), false);
    for (const part of ["one", "two", "three"]) {
      void destination.write(bytes(part));
      assert.deepEqual(await readBytes(app, part.length), [...bytes(part)]);
    }
    await destination.closeWrite();
    assert.deepEqual(await readToEnd(app), []);
    const result = await within(relayed, 1000, "relay()");
    assert.deepEqual(result, { up: 3, down: 11, end: "closed" });
  });

  it("relay() passes the destination's half-close on and keeps relaying up", async () => {
    const { app, client, target, destination } = tunnel();
    const relayed = relay(client, target);
    void destination.write(bytes("banner"));
    await destination.closeWrite();
    assert.deepEqual(await readToEnd(app), [...bytes("banner")]);
    assert.equal(client.writeClosed, true);
    assert.equal(target.writeClosed, false);
    assert.equal(await settled(relayed), false);
    for (const part of ["a", "bc", "def"]) {
      void app.write(bytes(part));
      assert.deepEqual(
        await readBytes(destination, part.length),
        [...bytes(part)],
      );
    }
    await app.closeWrite();
    assert.deepEqual(await readToEnd(destination), []);
    const result = await within(relayed, 1000, "relay()");
    assert.deepEqual(result, { up: 6, down: 6, end: "closed" });
  });

  it("relay() closes both sides on a client reset and ends with error", async () => {
    const { app, client, target, destination } = tunnel();
    const relayed = relay(client, target);
    void app.write(bytes("partial"));
    assert.deepEqual(await readBytes(destination, 7), [...bytes("partial")]);
    app.reset();
    const result = await within(relayed, 1000, "relay()");
    assert.deepEqual(result, { up: 7, down: 0, end: "error" });
    assert.equal(client.closed, true);
    assert.equal(target.closed, true);
    assert.equal(await within(destination.read(), 1000), null);
  });

  it("relay() closes both sides on a destination reset and ends with error", async () => {
    const { app, client, target, destination } = tunnel();
    const relayed = relay(client, target);
    void destination.write(bytes("xy"));
    assert.deepEqual(await readBytes(app, 2), [...bytes("xy")]);
    destination.reset(resetError());
    const result = await within(relayed, 1000, "relay()");
    assert.deepEqual(result, { up: 0, down: 2, end: "error" });
    assert.equal(client.closed, true);
    assert.equal(target.closed, true);
    assert.equal(await within(app.read(), 1000), null);
  });

  it("relay() closes an idle tunnel after idleTimeout", async () => {
    const { app, client, target, destination } = tunnel();
    const started = Date.now();
    const result = await within(
      relay(client, target, { idleTimeout: 40 }),
      1000,
      "relay()",
    );
    const elapsed = Date.now() - started;
    assert.deepEqual(result, { up: 0, down: 0, end: "idle" });
    assert.ok(elapsed >= 35, `closed after ${elapsed} ms`);
    assert.equal(client.closed, true);
    assert.equal(target.closed, true);
    assert.equal(await within(app.read(), 100), null);
    assert.equal(await within(destination.read(), 100), null);
  });

  it("relay() does not time out while bytes flow", async () => {
    const { app, client, target, destination } = tunnel();
    const relayed = relay(client, target, { idleTimeout: 60 });
    const started = Date.now();
    let up = 0;
    let down = 0;
    for (let i = 0; Date.now() - started < 200; i++) {
      if (i % 2 === 0) {
        void app.write(bytes(i));
        assert.deepEqual(await readBytes(destination, 1), [i]);
        up++;
      } else {
        void destination.write(bytes(i, i));
        assert.deepEqual(await readBytes(app, 2), [i, i]);
        down += 2;
      }
      await sleep(15);
    }
    assert.equal(await settled(relayed), false);
    await app.closeWrite();
    await destination.closeWrite();
    const result = await within(relayed, 1000, "relay()");
    assert.deepEqual(result, { up, down, end: "closed" });
  });

  it("relay() holds at most one chunk while the destination does not read", async () => {
    const { app, client, target, destination } = tunnel({ client: 8 });
    const relayed = relay(client, target);
    const chunks = Array.from({ length: 6 }, (_, i) => bytes(i, i, i));
    const writes = chunks.map((chunk) => app.write(chunk));
    await sleep(30);
    assert.equal(client.reads, 1);
    assert.equal(target.unread, 1);
    assert.equal(app.unread, 5);
    // The other direction is not held up.
    void destination.write(bytes("down"));
    assert.deepEqual(await readBytes(app, 4), [...bytes("down")]);
    await sleep(10);
    assert.equal(client.reads, 1);
    // Once the destination reads, everything follows in order.
    const received = await readBytes(destination, 18);
    assert.deepEqual(received, chunks.flatMap((chunk) => [...chunk]));
    await within(Promise.all(writes), 1000, "the client's writes");
    assert.equal(client.reads, 6);
    await app.closeWrite();
    await destination.closeWrite();
    assert.deepEqual(await readToEnd(destination), []);
    const result = await within(relayed, 1000, "relay()");
    assert.deepEqual(result, { up: 18, down: 4, end: "closed" });
  });

  it("relay() relays the chunk of a read already under way first", async () => {
    const { app, client, target, destination } = tunnel();
    const early = client.read();
    void app.write(bytes("early"));
    const relayed = relay(client, target, { clientRead: early });
    void app.write(bytes("late"));
    assert.deepEqual(await readBytes(destination, 9), [...bytes("earlylate")]);
    await app.closeWrite();
    await destination.closeWrite();
    const result: RelayResult = await within(relayed, 1000, "relay()");
    assert.deepEqual(result, { up: 9, down: 0, end: "closed" });
  });
});
