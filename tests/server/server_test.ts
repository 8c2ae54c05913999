import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { LogRecord } from "../../src/observe/logger.ts";
import type { ServeOptions } from "../../src/server/options.ts";
import { startServer } from "../../src/server/server.ts";
import { errnoError, FakeNetwork } from "../_helpers/fake_network.ts";
import {
  ByteReader,
  bytes,
  sleep,
  waitFor,
  within,
} from "../_helpers/memory_connection.ts";

const GREETING = bytes(0x05, 0x01, 0x00);
const CONNECT = bytes(0x05, 0x01, 0x00, 0x01, 198, 51, 100, 7, 0x00, 0x50);

async function start(options: ServeOptions = {}) {
  const network = new FakeNetwork().onConnect("198.51.100.7", {
    type: "connect",
  });
  const records: LogRecord[] = [];
  const server = await startServer(network, {
    listen: "127.0.0.1:1080",
    logger: { log: (record) => records.push(record) },
    ...options,
  });
  return { network, records, server, listener: network.listener(0) };
}

function isSettled(promise: Promise<unknown>): Promise<boolean> {
  return Promise.race([
    promise.then(() => true, () => true),
    sleep(0).then(() => false),
  ]);
}

describe("Server.reload", () => {
  it("reload() replaces the options: one left out goes back to its default", async () => {
    const { server, listener, records } = await start({
      users: { alice: "s3cret" },
    });
    try {
      const login = listener.connect({ buffer: 16 });
      void login.write(bytes(0x05, 0x01, 0x00));
      assert.deepEqual(await new ByteReader(login).toEnd(), [0x05, 0xff]);
      // Without users on loopback, no login is asked any more.
      server.reload({});
      const open = listener.connect({ buffer: 16 });
      void open.write(GREETING);
      assert.deepEqual(await new ByteReader(open).bytes(2), [0x05, 0x00]);
      open.close();
      assert.ok(records.some((r) => r.msg === "reloaded"));
    } finally {
      await within(server.close({ gracePeriod: 0 }), 1000, "close()");
    }
  });

  it("reload() keeps the old options when a new one is invalid", async () => {
    const { server, listener } = await start({ users: { alice: "s3cret" } });
    try {
      assert.throws(() => server.reload({ idleTimeout: -1 }), {
        name: "TypeError",
        message: /^Invalid option idleTimeout: /,
      });
      const login = listener.connect({ buffer: 16 });
      void login.write(bytes(0x05, 0x01, 0x00));
      assert.deepEqual(await new ByteReader(login).toEnd(), [0x05, 0xff]);
    } finally {
      await within(server.close({ gracePeriod: 0 }), 1000, "close()");
    }
  });
});

describe("startServer", () => {
  it("startServer() listens on every address, in order, and logs each", async () => {
    const { network, records, server } = await start({
      listen: ["127.0.0.1:0", "[::1]:1081", "localhost:0"],
    });
    try {
      assert.deepEqual(server.addresses, [
        { host: "127.0.0.1", port: 30000 },
        { host: "::1", port: 1081 },
        { host: "localhost", port: 30001 },
      ]);
      assert.equal(network.listeners.length, 3);
      assert.deepEqual(records, [
        { level: "info", msg: "listening", address: "127.0.0.1:30000" },
        { level: "info", msg: "listening", address: "[::1]:1081" },
        { level: "info", msg: "listening", address: "localhost:30001" },
      ]);
      // A copy: callers cannot move the server.
      server.addresses[0]!.port = 1;
      assert.equal(server.addresses[0]!.port, 30000);
    } finally {
      await within(server.close({ gracePeriod: 0 }), 1000);
    }
  });

  it("startServer() closes the listeners it opened when a later one fails", async () => {
    const inUse = errnoError("EADDRINUSE", "listen EADDRINUSE");
    const network = new FakeNetwork().failListen("[::1]:1080", inUse);
    await assert.rejects(
      startServer(network, {
        listen: ["127.0.0.1:1080", "[::1]:1080", "127.0.0.2:1080"],
        logger: { log() {} },
      }),
      (error) => error === inUse,
    );
    assert.equal(network.listeners.length, 1);
    assert.equal(network.listeners[0]!.closed, true);
  });

  it("startServer() rejects bad options before it listens", async () => {
    const network = new FakeNetwork();
    await assert.rejects(
      startServer(network, { listen: "0.0.0.0:1080" }),
      (error: unknown) =>
        error instanceof TypeError &&
        error.message.startsWith("Invalid option noAuth:"),
    );
    assert.equal(network.listeners.length, 0);
  });

  it("Server logs accept errors and goes on accepting", async () => {
    const { records, server, listener } = await start();
    try {
      listener.fail(errnoError("EMFILE", "too many open files"));
      const client = listener.connect();
      const reader = new ByteReader(client);
      void client.write(GREETING);
      assert.deepEqual(await reader.bytes(2), [0x05, 0x00]);
      assert.deepEqual(records.filter((r) => r.msg.startsWith("accept")), [{
        level: "warn",
        msg: "accept failing",
        address: "127.0.0.1:1080",
        failures: 1,
        code: "EMFILE",
        error: "too many open files",
      }, {
        level: "info",
        msg: "accepting again",
        address: "127.0.0.1:1080",
        failures: 0,
      }]);
      assert.equal(server.connectionCount, 1);
    } finally {
      await within(server.close({ gracePeriod: 0 }), 1000);
    }
  });

  it("Server backs off on accept errors in a row and logs them as one count", async () => {
    const { records, server, listener } = await start();
    try {
      const started = Date.now();
      // A fake network has no spare descriptor to give up: each failure
      // waits, 10, 20, 40, 80, 160 and 320 ms.
      for (let i = 0; i < 6; i++) {
        listener.fail(errnoError("EMFILE", "too many open files"));
      }
      const client = listener.connect();
      const reader = new ByteReader(client);
      void client.write(GREETING);
      assert.deepEqual(await reader.bytes(2), [0x05, 0x00]);
      assert.ok(Date.now() - started >= 600, "it waited between attempts");
      assert.deepEqual(
        records.filter((r) => r.msg.startsWith("accept"))
          .map((r) => [r.msg, r.failures]),
        [["accept failing", 1], ["accepting again", 5]],
      );
      assert.match(
        server.metrics.render(),
        /^edgesocks_accept_errors_total\{code="EMFILE"\} 6$/m,
      );
    } finally {
      await within(server.close({ gracePeriod: 0 }), 1000);
    }
  });

  it("Server gives up its spare descriptor on EMFILE and closes clients while still out", async () => {
    const network = new FakeNetwork();
    // A network that tells its limit can run out: the server keeps a spare.
    let outOfDescriptors = false;
    const bindUdp = network.bindUdp.bind(network);
    Object.assign(network, {
      descriptorLimit: () => Promise.resolve(256),
      bindUdp: (...args: Parameters<typeof bindUdp>) =>
        outOfDescriptors
          ? Promise.reject(errnoError("EMFILE", "too many open files"))
          : bindUdp(...args),
    });
    const records: LogRecord[] = [];
    const server = await startServer(network, {
      listen: "127.0.0.1:1080",
      logger: { log: (record) => records.push(record) },
    });
    const listener = network.listener(0);
    try {
      const [spare] = network.udpSockets;
      assert.equal(spare?.closed, false, "a spare is held");
      assert.deepEqual(records[0], {
        level: "info",
        msg: "descriptors",
        limit: 256,
        reserved: 65,
        per_client: 3,
        max_connections: 63,
      });
      outOfDescriptors = true;
      listener.fail(errnoError("EMFILE", "too many open files"));
      const shed = listener.connect();
      const shedReader = new ByteReader(shed);
      void shed.write(GREETING);
      await waitFor(() => spare!.closed || undefined);
      // Still out: the client is closed without a byte, and counted.
      assert.deepEqual(await shedReader.toEnd(), []);
      assert.match(
        server.metrics.render(),
        /^edgesocks_connections_refused_total\{reason="descriptors"\} 1$/m,
      );
      outOfDescriptors = false;
      listener.fail(errnoError("EMFILE", "too many open files"));
      const served = listener.connect();
      const reader = new ByteReader(served);
      void served.write(GREETING);
      assert.deepEqual(await reader.bytes(2), [0x05, 0x00]);
      assert.equal(network.udpSockets.filter((s) => !s.closed).length, 1);
    } finally {
      await within(server.close({ gracePeriod: 0 }), 1000);
    }
    assert.equal(network.udpSockets.filter((s) => !s.closed).length, 0);
  });

  it("Server counts connections and sessions until they end", async () => {
    const { network, server, listener } = await start();
    try {
      assert.equal(server.connectionCount, 0);
      const idle = listener.connect({ buffer: 16 });
      const client = listener.connect({ buffer: 16 });
      const reader = new ByteReader(client);
      void client.write(bytes(GREETING, CONNECT));
      assert.deepEqual((await reader.bytes(12)).slice(0, 4), [5, 0, 5, 0]);
      assert.equal(server.connectionCount, 2);
      assert.equal(server.sessionCount("127.0.0.1"), 1);
      assert.equal(server.sessionCount("127.0.0.1", null), 1);
      assert.equal(server.sessionCount("127.0.0.2"), 0);
      idle.close();
      await waitFor(() => server.connectionCount === 1 || undefined);
      const peer = await waitFor(() => network.attempts[0]?.peer);
      await peer.closeWrite();
      await client.closeWrite();
      assert.deepEqual(await reader.toEnd(), []);
      await waitFor(() => server.connectionCount === 0 || undefined);
      assert.equal(server.sessionCount("127.0.0.1"), 0);
    } finally {
      await within(server.close({ gracePeriod: 0 }), 1000);
    }
  });
});

describe("Server.close", () => {
  it("close() closes clients still in their handshake at once", async () => {
    const { records, server, listener } = await start({ gracePeriod: 5000 });
    const silent = listener.connect();
    const halfway = listener.connect({ buffer: 16 });
    void halfway.write(bytes(0x05, 0x01));
    await waitFor(() => server.connectionCount === 2 || undefined);
    const started = Date.now();
    await within(server.close(), 1000, "close()");
    assert.ok(Date.now() - started < 500);
    assert.equal(await within(silent.read(), 100), null);
    assert.equal(await within(halfway.read(), 100), null);
    assert.equal(server.connectionCount, 0);
    assert.equal(await isSettled(server.closed), true);
    assert.equal(listener.closed, true);
    assert.throws(() => listener.connect(), { code: "ECONNREFUSED" });
    assert.deepEqual(records.at(-1), { level: "info", msg: "closed" });
  });

  it("close() lets a relaying tunnel finish within the grace period", async () => {
    const { network, records, server, listener } = await start({
      gracePeriod: 2000,
    });
    const client = listener.connect({ buffer: 16 });
    const reader = new ByteReader(client);
    void client.write(bytes(GREETING, CONNECT));
    assert.deepEqual((await reader.bytes(12)).slice(0, 4), [5, 0, 5, 0]);
    const peer = await waitFor(() => network.attempts[0]?.peer);
    const closing = server.close();
    await sleep(20);
    assert.equal(await isSettled(closing), false);
    assert.equal(await isSettled(server.closed), false);
    assert.equal(server.connectionCount, 1);
    // The tunnel still carries bytes both ways.
    void client.write(bytes("ping"));
    assert.deepEqual(await new ByteReader(peer).bytes(4), [...bytes("ping")]);
    void peer.write(bytes("pong"));
    assert.deepEqual(await reader.bytes(4), [...bytes("pong")]);
    const ended = Date.now();
    await peer.closeWrite();
    await client.closeWrite();
    assert.deepEqual(await reader.toEnd(), []);
    await within(closing, 1000, "close()");
    assert.ok(Date.now() - ended < 500, "close() did not wait for the grace");
    await within(server.closed, 100, "closed");
    assert.equal(server.connectionCount, 0);
    const access = records.find((r) => r.msg === "access");
    assert.equal(access?.end, "closed");
    assert.equal(access?.up, 4);
    assert.equal(access?.down, 4);
  });

  it("close() force-closes tunnels left after the grace period", async () => {
    const { network, server, listener } = await start();
    const client = listener.connect({ buffer: 16 });
    const reader = new ByteReader(client);
    void client.write(bytes(GREETING, CONNECT));
    assert.deepEqual((await reader.bytes(12)).slice(0, 4), [5, 0, 5, 0]);
    const peer = await waitFor(() => network.attempts[0]?.peer);
    const started = Date.now();
    const closing = server.close({ gracePeriod: 40 });
    await within(closing, 1000, "close()");
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 35 && elapsed < 500, `closed after ${elapsed} ms`);
    assert.deepEqual(await reader.toEnd(100), []);
    assert.equal(await within(peer.read(), 100), null);
    assert.equal(network.attempts[0]!.conn?.closed, true);
    assert.equal(server.connectionCount, 0);
    assert.equal(server.sessionCount("127.0.0.1"), 0);
    await within(server.closed, 100, "closed");
  });

  it("close() ends a BIND still waiting for its peer and frees its port", async () => {
    const { network, server, listener } = await start({
      bindWithoutSession: true,
      gracePeriod: 5000,
    });
    const client = listener.connect({ buffer: 16 });
    const reader = new ByteReader(client);
    void client.write(
      bytes(GREETING, 0x05, 0x02, 0x00, 0x01, 0, 0, 0, 0, 0, 0),
    );
    assert.deepEqual((await reader.bytes(12)).slice(0, 4), [5, 0, 5, 0]);
    const bound = network.listener(1);
    assert.equal(bound.closed, false);
    const started = Date.now();
    await within(server.close(), 1000, "close()");
    assert.ok(Date.now() - started < 500);
    assert.deepEqual(await reader.toEnd(100), []);
    assert.equal(bound.closed, true);
    assert.equal(server.connectionCount, 0);
  });

  it("close() returns the same promise every time", async () => {
    const { server } = await start();
    const first = server.close({ gracePeriod: 0 });
    const second = server.close({ gracePeriod: 10_000 });
    assert.equal(first, second);
    await within(first, 1000, "close()");
  });

  it("close() does not wait for a dial still in progress", async () => {
    const { network, server, listener } = await start({
      connectTimeout: 400,
    });
    network.onConnect("198.51.100.7", { type: "hang" });
    const client = listener.connect({ buffer: 16 });
    void client.write(bytes(GREETING, CONNECT));
    await waitFor(() => network.attempts[0]);
    const started = Date.now();
    await within(server.close({ gracePeriod: 0 }), 1000, "close()");
    const elapsed = Date.now() - started;
    assert.equal(network.attempts[0]!.signal?.aborted, true);
    assert.ok(elapsed < 200, `close() took ${elapsed} ms`);
  });
});
