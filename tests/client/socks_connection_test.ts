import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { socksConnection } from "../../src/client/socks_connection.ts";
import {
  bytes,
  memoryPair,
  readBytes,
  sleep,
  within,
} from "../_helpers/memory_connection.ts";

const BOUND = { type: 0x01, host: "127.0.0.1", port: 40000 } as const;

describe("socksConnection()", () => {
  it("keeps the connection and the bound address", () => {
    const [client] = memoryPair();
    const tunnel = socksConnection(client, BOUND);
    assert.equal(tunnel.connection, client);
    assert.deepEqual(tunnel.bound, BOUND);
  });

  it("reads nothing until the readable is used", async () => {
    const [client, peer] = memoryPair({ buffer: 1 });
    const tunnel = socksConnection(client, BOUND);
    await peer.write(bytes(1));
    await sleep(5);
    assert.equal(client.reads, 0);
    assert.deepEqual([...(await tunnel.connection.read())!], [1]);
  });

  it("readable gives each chunk and ends at the peer's FIN", async () => {
    const [client, peer] = memoryPair({ buffer: 4 });
    const tunnel = socksConnection(client, BOUND);
    await peer.write(bytes(1, 2));
    await peer.write(bytes(3));
    await peer.closeWrite();
    const chunks: number[][] = [];
    for await (const chunk of tunnel.readable) chunks.push([...chunk]);
    assert.deepEqual(chunks, [[1, 2], [3]]);
    assert.equal(tunnel.readable, tunnel.readable);
  });

  it("readable pulls only when read: a slow reader holds the sender", async () => {
    const [client, peer] = memoryPair();
    const tunnel = socksConnection(client, BOUND);
    const reader = tunnel.readable.getReader();
    let taken = false;
    const write = peer.write(bytes(7)).then(() => taken = true);
    await sleep(10);
    assert.equal(taken, false, "no read ahead of the reader");
    const result = await within(reader.read(), 1000);
    assert.deepEqual([...result.value!], [7]);
    await within(write, 1000);
    assert.equal(client.reads, 1);
    reader.releaseLock();
    client.close();
  });

  it("readable errors with the connection's error on a reset", async () => {
    const [client, peer] = memoryPair();
    const tunnel = socksConnection(client, BOUND);
    peer.reset();
    await assert.rejects(
      tunnel.readable.getReader().read(),
      { message: "Connection reset by peer" },
    );
  });

  it("cancelling the readable closes the tunnel", async () => {
    const [client] = memoryPair();
    const tunnel = socksConnection(client, BOUND);
    await tunnel.readable.cancel();
    assert.equal(client.closed, true);
  });

  it("writable waits for the peer to take each chunk, then half-closes", async () => {
    const [client, peer] = memoryPair();
    const tunnel = socksConnection(client, BOUND);
    const writer = tunnel.writable.getWriter();
    let written = false;
    const write = writer.write(bytes(1, 2, 3)).then(() => written = true);
    await sleep(10);
    assert.equal(written, false, "the write waits for the peer");
    assert.deepEqual(await readBytes(peer, 3), [1, 2, 3]);
    await within(write, 1000);
    await within(writer.close(), 1000);
    assert.equal(client.writeClosed, true);
    assert.equal(client.closed, false, "reading goes on after a half-close");
    assert.equal(await within(peer.read(), 1000), null);
  });

  it("aborting the writable closes the tunnel", async () => {
    const [client] = memoryPair();
    const tunnel = socksConnection(client, BOUND);
    await tunnel.writable.abort(new Error("stop"));
    assert.equal(client.closed, true);
  });

  it("close() closes the connection", () => {
    const [client] = memoryPair();
    socksConnection(client, BOUND).close();
    assert.equal(client.closed, true);
  });
});
