import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  dialOnlyNetwork,
  streamConnection,
  type StreamSocket,
} from "../../src/net/stream_connection.ts";

const REMOTE = { host: "127.0.0.1", port: 1080 };

/** A socket over in-memory streams: what the test pushes and what it got. */
function memorySocket() {
  let push!: ReadableStreamDefaultController<Uint8Array>;
  const written: Uint8Array[] = [];
  let writableClosed = false;
  let closeCalls = 0;
  const socket: StreamSocket = {
    readable: new ReadableStream<Uint8Array>({
      start(controller) {
        push = controller;
      },
    }),
    writable: new WritableStream<Uint8Array>({
      write(chunk) {
        written.push(chunk);
      },
      close() {
        writableClosed = true;
      },
    }),
    close() {
      closeCalls++;
    },
  };
  return {
    socket,
    push: (bytes: number[]) => push.enqueue(new Uint8Array(bytes)),
    end: () => push.close(),
    fail: (error: Error) => push.error(error),
    written,
    writableClosed: () => writableClosed,
    closeCalls: () => closeCalls,
  };
}

describe("streamConnection()", () => {
  it("reads chunks as they come and null at the end", async () => {
    const memory = memorySocket();
    const conn = streamConnection(memory.socket, REMOTE);
    memory.push([1, 2]);
    memory.push([3]);
    memory.end();
    assert.deepEqual(await conn.read(), new Uint8Array([1, 2]));
    assert.deepEqual(await conn.read(), new Uint8Array([3]));
    assert.equal(await conn.read(), null);
    assert.deepEqual(conn.remoteAddress, REMOTE);
    assert.deepEqual(conn.localAddress, { host: "0.0.0.0", port: 0 });
  });

  it("writes bytes in order and half-closes with closeWrite()", async () => {
    const memory = memorySocket();
    const conn = streamConnection(memory.socket, REMOTE);
    await conn.write(new Uint8Array([5, 1, 0]));
    await conn.write(new Uint8Array([9]));
    await conn.closeWrite();
    assert.deepEqual(memory.written, [
      new Uint8Array([5, 1, 0]),
      new Uint8Array([9]),
    ]);
    assert.equal(memory.writableClosed(), true);
    assert.equal(memory.closeCalls(), 0);
  });

  it("rejects a read on a reset", async () => {
    const memory = memorySocket();
    const conn = streamConnection(memory.socket, REMOTE);
    memory.fail(new Error("reset"));
    await assert.rejects(conn.read(), /reset/);
  });

  it("close() ends a pending read with null, ignores writes, and closes the socket once", async () => {
    const memory = memorySocket();
    const conn = streamConnection(memory.socket, REMOTE);
    const pending = conn.read();
    conn.close();
    conn.close();
    assert.equal(await pending, null);
    assert.equal(await conn.read(), null);
    await conn.write(new Uint8Array([1]));
    await conn.closeWrite();
    assert.deepEqual(memory.written, []);
    assert.equal(memory.closeCalls(), 1);
  });
});

describe("dialOnlyNetwork()", () => {
  it("hands the address, names included, to dial and wraps the socket", async () => {
    const memory = memorySocket();
    const dialled: string[] = [];
    const network = dialOnlyNetwork((address) => {
      dialled.push(`${address.host}:${address.port}`);
      return Promise.resolve(memory.socket);
    }, "Testland");
    assert.equal(network.resolvesOnConnect, true);
    const conn = await network.connect({ host: "proxy.example", port: 1080 });
    memory.push([7]);
    assert.deepEqual(await conn.read(), new Uint8Array([7]));
    assert.deepEqual(dialled, ["proxy.example:1080"]);
    assert.deepEqual(conn.remoteAddress, { host: "proxy.example", port: 1080 });
    conn.close();
  });

  it("closes a socket that opens after the signal aborted", async () => {
    const memory = memorySocket();
    const controller = new AbortController();
    const network = dialOnlyNetwork(() => {
      controller.abort(new Error("gave up"));
      return Promise.resolve(memory.socket);
    }, "Testland");
    await assert.rejects(
      network.connect({
        host: "127.0.0.1",
        port: 1,
        signal: controller.signal,
      }),
      /gave up/,
    );
    assert.equal(memory.closeCalls(), 1);
  });

  it("gives up on a dial that ignores the signal, and closes its late socket", async () => {
    const memory = memorySocket();
    let open!: (socket: StreamSocket) => void;
    const network = dialOnlyNetwork(
      () => new Promise<StreamSocket>((resolve) => open = resolve),
      "Testland",
    );
    const controller = new AbortController();
    const connecting = network.connect({
      host: "127.0.0.1",
      port: 1,
      signal: controller.signal,
    });
    controller.abort(new Error("timed out"));
    await assert.rejects(connecting, /timed out/);
    assert.equal(memory.closeCalls(), 0);
    open(memory.socket);
    await new Promise((resolve) => setTimeout(resolve, 0));
    assert.equal(memory.closeCalls(), 1);
  });

  it("rejects listen(), bindUdp() and lookup() saying what the platform cannot do", async () => {
    const network = dialOnlyNetwork(
      () => Promise.reject(new Error("unused")),
      "Testland",
    );
    await assert.rejects(network.listen({ host: "127.0.0.1", port: 0 }), {
      message:
        "Cannot listen for connections on Testland: it can only open outbound TCP connections; run the server on Deno, Bun or Node",
    });
    await assert.rejects(
      network.bindUdp({ host: "127.0.0.1", port: 0 }, () => {}),
      {
        message:
          "Cannot bind a UDP socket on Testland: it can only open outbound TCP connections, so UDP ASSOCIATE cannot work there",
      },
    );
    await assert.rejects(network.lookup("example.com"), {
      message:
        "Cannot resolve example.com on Testland: it has no resolver; use a socks5h:// proxy URL so the proxy resolves destination names",
    });
  });
});
