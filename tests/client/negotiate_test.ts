import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  SocksAuthError,
  SocksProtocolError,
  SocksReplyError,
} from "../../src/client/errors.ts";
import { ClientHandshake } from "../../src/client/handshake.ts";
import {
  connectionTransport,
  negotiate,
  withLeftover,
} from "../../src/client/negotiate.ts";
import {
  ByteReader,
  bytes,
  memoryPair,
  readBytes,
  resetError,
  within,
} from "../_helpers/memory_connection.ts";

const alice = { username: "alice", password: "s3cret" };
const REQUEST_NAME = [0x05, 0x01, 0x00, 0x03, 9, ...bytes("localhost"), 0, 80];
const REPLY_OK = [0x05, 0x00, 0x00, 0x01, 127, 0, 0, 1, 0x9c, 0x40];
const BANNER = [...bytes("220 ready\r\n")];

function connectName(credentials?: typeof alice): ClientHandshake {
  return new ClientHandshake({
    command: 0x01,
    destination: { type: 0x03, host: "localhost", port: 80 },
    ...(credentials ? { credentials } : {}),
  });
}

describe("negotiate() over a Connection", () => {
  it("logs in, connects, and hands over the banner sent with the reply", async () => {
    const [client, proxy] = memoryPair();
    const server = (async () => {
      const reader = new ByteReader(proxy);
      assert.deepEqual(await reader.bytes(4), [0x05, 0x02, 0x00, 0x02]);
      await proxy.write(bytes(0x05, 0x02));
      assert.deepEqual(
        await reader.bytes(14),
        [0x01, 5, ...bytes("alice"), 6, ...bytes("s3cret")],
      );
      await proxy.write(bytes(0x01, 0x00));
      assert.deepEqual(await reader.bytes(REQUEST_NAME.length), REQUEST_NAME);
      // The reply and the destination's first bytes in one chunk.
      await proxy.write(bytes(REPLY_OK, BANNER));
      await proxy.write(bytes("more"));
      await proxy.closeWrite();
    })();
    const outcome = await within(
      negotiate(connectionTransport(client), connectName(alice)),
      1000,
      "the handshake",
    );
    assert.equal(outcome.type, "established");
    if (outcome.type !== "established") return;
    assert.deepEqual(outcome.reply.bound, {
      type: 0x01,
      host: "127.0.0.1",
      port: 40000,
    });
    const tunnel = withLeftover(client, outcome.leftover);
    const received = [];
    for (let chunk = await tunnel.read(); chunk; chunk = await tunnel.read()) {
      received.push(...chunk);
    }
    assert.deepEqual(received, [...BANNER, ...bytes("more")]);
    await within(server, 1000, "the proxy script");
  });

  it("rejects with a SocksReplyError when the proxy refuses", async () => {
    const [client, proxy] = memoryPair();
    const server = (async () => {
      await readBytes(proxy, 3);
      await proxy.write(bytes(0x05, 0x00));
      await readBytes(proxy, REQUEST_NAME.length);
      await proxy.write(bytes(0x05, 0x04, 0x00, 0x01, 0, 0, 0, 0, 0, 0));
      proxy.close();
    })();
    await assert.rejects(
      within(negotiate(connectionTransport(client), connectName()), 1000),
      (error: unknown) => {
        assert.ok(error instanceof SocksReplyError);
        assert.equal(error.reply, 4);
        assert.equal(
          error.message,
          "SOCKS5 proxy replied 0x04: host unreachable",
        );
        return true;
      },
    );
    await server;
  });

  it("rejects with a SocksAuthError on 05 FF", async () => {
    const [client, proxy] = memoryPair();
    const server = (async () => {
      await readBytes(proxy, 3);
      await proxy.write(bytes(0x05, 0xff));
      proxy.close();
    })();
    await assert.rejects(
      within(negotiate(connectionTransport(client), connectName()), 1000),
      (error: unknown) =>
        error instanceof SocksAuthError &&
        error.reason === "no_acceptable_method",
    );
    await server;
  });

  it("rejects with unexpected_end when the proxy closes mid-handshake", async () => {
    const [client, proxy] = memoryPair();
    const server = (async () => {
      await readBytes(proxy, 3);
      await proxy.write(bytes(0x05));
      await proxy.closeWrite();
    })();
    await assert.rejects(
      within(negotiate(connectionTransport(client), connectName()), 1000),
      (error: unknown) => {
        assert.ok(error instanceof SocksProtocolError);
        assert.equal(error.code, "unexpected_end");
        assert.equal(
          error.message,
          "SOCKS5 proxy closed the connection before its method selection",
        );
        return true;
      },
    );
    await server;
  });

  it("rejects with the transport's error on a reset", async () => {
    const [client, proxy] = memoryPair();
    const server = (async () => {
      await readBytes(proxy, 3);
      proxy.reset();
    })();
    await assert.rejects(
      within(negotiate(connectionTransport(client), connectName()), 1000),
      { message: resetError().message },
    );
    await server;
  });

  it("rejects with the signal's reason as soon as it aborts", async () => {
    const [client, proxy] = memoryPair();
    const controller = new AbortController();
    const started = negotiate(connectionTransport(client), connectName(), {
      signal: controller.signal,
    });
    assert.deepEqual(await readBytes(proxy, 3), [0x05, 0x01, 0x00]);
    const reason = new Error("stop");
    controller.abort(reason);
    await assert.rejects(within(started, 1000), (error) => error === reason);
    client.close();
  });

  it("rejects at once for a signal aborted before the call", async () => {
    const [client] = memoryPair();
    const reason = new Error("already");
    await assert.rejects(
      negotiate(connectionTransport(client), connectName(), {
        signal: AbortSignal.abort(reason),
      }),
      (error) => error === reason,
    );
    assert.equal(client.writes, 0);
  });

  it("goes on from a given step: BIND's second reply after the first", async () => {
    const [client, proxy] = memoryPair({ buffer: 4 });
    const handshake = new ClientHandshake({
      command: 0x02,
      destination: { type: 0x01, host: "0.0.0.0", port: 0 },
    });
    const transport = connectionTransport(client);
    const first = negotiate(transport, handshake);
    await readBytes(proxy, 3);
    await proxy.write(bytes(0x05, 0x00));
    await readBytes(proxy, 10);
    await proxy.write(bytes(REPLY_OK));
    const bound = await within(first, 1000, "the first reply");
    assert.equal(bound.type, "bound");
    assert.equal(bound.reply.bound.port, 40000);
    const second = negotiate(transport, handshake, {
      from: handshake.receive(new Uint8Array(0)),
    });
    await proxy.write(
      bytes(0x05, 0x00, 0x00, 0x01, 192, 0, 2, 1, 0, 7, ...BANNER),
    );
    const established = await within(second, 1000, "the second reply");
    assert.equal(established.type, "established");
    if (established.type !== "established") return;
    assert.deepEqual(established.reply.bound, {
      type: 0x01,
      host: "192.0.2.1",
      port: 7,
    });
    assert.deepEqual([...established.leftover], BANNER);
    client.close();
  });
});

describe("withLeftover()", () => {
  it("returns the connection itself when there is no leftover", () => {
    const [client] = memoryPair();
    assert.equal(withLeftover(client, new Uint8Array(0)), client);
  });

  it("reads the leftover first, then the connection", async () => {
    const [client, peer] = memoryPair({ buffer: 1 });
    const conn = withLeftover(client, bytes(1, 2));
    await peer.write(bytes(3));
    assert.deepEqual([...(await conn.read())!], [1, 2]);
    assert.deepEqual([...(await conn.read())!], [3]);
    await conn.write(bytes(9));
    assert.deepEqual(await readBytes(peer, 1), [9]);
    await conn.closeWrite();
    assert.equal(await within(peer.read(), 1000), null);
    assert.deepEqual(conn.localAddress, client.localAddress);
    assert.deepEqual(conn.remoteAddress, client.remoteAddress);
  });

  it("drops the leftover on close: reads give null", async () => {
    const [client] = memoryPair();
    const conn = withLeftover(client, bytes(1, 2));
    conn.close();
    assert.equal(client.closed, true);
    assert.equal(await conn.read(), null);
  });
});
