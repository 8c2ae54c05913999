import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Connection } from "../../src/net/connection.ts";
import type { LogRecord } from "../../src/observe/logger.ts";
import { resolveOptions, type ServeOptions } from "../../src/server/options.ts";
import type { ServerState } from "../../src/server/context.ts";
import { serveConnection } from "../../src/server/serve_connection.ts";
import { type Server, startServer } from "../../src/server/server.ts";
import { SessionTable } from "../../src/server/sessions.ts";
import { Limits } from "../../src/server/limits.ts";
import { PendingHandshakes } from "../../src/server/pending.ts";
import { LoginThrottle } from "../../src/auth/login_throttle.ts";
import { Metrics } from "../../src/observe/metrics.ts";
import { encodeUdpDatagram } from "../../src/wire/udp_datagram.ts";
import {
  errnoError,
  FakeListener,
  FakeNetwork,
} from "../_helpers/fake_network.ts";
import {
  ByteReader,
  bytes,
  type MemoryConnection,
  memoryPair,
  sleep,
  waitFor,
  within,
} from "../_helpers/memory_connection.ts";

const GREETING = bytes(0x05, 0x01, 0x00);
const GREETING_LOGIN = bytes(0x05, 0x01, 0x02);
// CONNECT 198.51.100.7:80
const CONNECT = bytes(0x05, 0x01, 0x00, 0x01, 198, 51, 100, 7, 0x00, 0x50);
const DESTINATION = "198.51.100.7";

function login(username: string, password: string): Uint8Array {
  return bytes(0x01, username.length, username, password.length, password);
}

function connectTo(name: string, port: number): Uint8Array {
  return bytes(0x05, 0x01, 0x00, 0x03, name.length, name, port >> 8, port);
}

function failure(code: number): number[] {
  return [0x05, code, 0x00, 0x01, 0, 0, 0, 0, 0, 0];
}

interface Harness {
  network: FakeNetwork;
  server: Server;
  records: LogRecord[];
  listener: FakeListener;
  /** A client connects; `buffer` chunks may sit unread each way. */
  connect(buffer?: number): { conn: MemoryConnection; reader: ByteReader };
}

// Starts a server on a fake network, runs `body`, then closes it at once.
async function withServer(
  options: ServeOptions,
  body: (harness: Harness) => Promise<void>,
  setup: (network: FakeNetwork) => void = () => {},
): Promise<void> {
  const network = new FakeNetwork();
  setup(network);
  const records: LogRecord[] = [];
  const server = await startServer(network, {
    listen: "127.0.0.1:1080",
    logger: { log: (record) => records.push(record) },
    ...options,
  });
  const listener = network.listener(0);
  try {
    await body({
      network,
      server,
      records,
      listener,
      connect(buffer = 16) {
        const conn = listener.connect({ buffer });
        return { conn, reader: new ByteReader(conn) };
      },
    });
  } finally {
    await within(server.close({ gracePeriod: 0 }), 1000, "server.close()");
  }
}

function accessRecord(records: LogRecord[]): Promise<LogRecord> {
  return waitFor(
    () => records.find((record) => record.msg === "access"),
    1000,
    "the access record",
  );
}

// The record with its duration checked and taken out.
function withoutDuration(record: LogRecord): Omit<LogRecord, "duration_ms"> {
  const { duration_ms: duration, ...rest } = record;
  assert.equal(typeof duration, "number");
  assert.ok((duration as number) >= 0 && (duration as number) < 5000);
  return rest;
}

function peerOf(network: FakeNetwork, index = 0): Promise<MemoryConnection> {
  return waitFor(() => network.attempts[index]?.peer, 1000, "the dial");
}

describe("serveConnection", () => {
  it("serveConnection() answers CONNECT with the outbound local address and relays", () =>
    withServer({}, async ({ network, server, records, connect }) => {
      network.onConnect(DESTINATION, {
        type: "connect",
        local: { host: "::ffff:192.0.2.10", port: 40001 },
      });
      const { conn, reader } = connect();
      void conn.write(bytes(GREETING, CONNECT, "GET"));
      assert.deepEqual(await reader.bytes(2), [0x05, 0x00]);
      assert.deepEqual(
        await reader.bytes(10),
        [0x05, 0x00, 0x00, 0x01, 192, 0, 2, 10, 0x9c, 0x41],
      );
      const peer = await peerOf(network);
      const destination = new ByteReader(peer);
      // The pipelined bytes come first, as they were sent.
      assert.deepEqual(await within(peer.read(), 1000), bytes("GET"));
      void conn.write(bytes(" /"));
      assert.deepEqual(await destination.bytes(2), [...bytes(" /")]);
      void peer.write(bytes("HTTP/1.1 200 OK"));
      assert.deepEqual(await reader.bytes(15), [...bytes("HTTP/1.1 200 OK")]);
      assert.equal(server.sessionCount("127.0.0.1"), 1);
      assert.equal(server.connectionCount, 1);
      await conn.closeWrite();
      assert.deepEqual(await destination.toEnd(), []);
      void peer.write(bytes("bye"));
      await peer.closeWrite();
      assert.deepEqual(await reader.toEnd(), [...bytes("bye")]);
      const record = await accessRecord(records);
      assert.deepEqual(withoutDuration(record), {
        level: "info",
        msg: "access",
        client: "127.0.0.1:50000",
        user: null,
        command: "connect",
        destination: "198.51.100.7:80",
        reply: 0x00,
        up: 5,
        down: 18,
        remote: "198.51.100.7:80",
        end: "closed",
      });
      await waitFor(() => server.connectionCount === 0 || undefined);
      assert.equal(server.sessionCount("127.0.0.1"), 0);
      assert.deepEqual(network.attempts.map((a) => [a.host, a.port]), [
        [DESTINATION, 80],
      ]);
      assert.equal(network.attempts[0]!.conn?.closed, true);
    }));

  it("serveConnection() replies with an IPv6 BND.ADDR for an IPv6 outbound socket", () =>
    withServer({}, async ({ network, records, connect }) => {
      network
        .onLookup("v6.test", { addresses: ["2001:db8::7"] })
        .onConnect("2001:db8::7", {
          type: "connect",
          local: { host: "2001:db8::10", port: 0x1f90 },
        });
      const { conn, reader } = connect();
      void conn.write(bytes(GREETING, connectTo("v6.test", 443)));
      assert.deepEqual(await reader.bytes(2), [0x05, 0x00]);
      assert.deepEqual(await reader.bytes(22), [
        0x05,
        0x00,
        0x00,
        0x04,
        0x20,
        0x01,
        0x0d,
        0xb8,
        ...new Array(11).fill(0),
        0x10,
        0x1f,
        0x90,
      ]);
      const peer = await peerOf(network);
      await peer.closeWrite();
      await conn.closeWrite();
      assert.deepEqual(await reader.toEnd(), []);
      const record = await accessRecord(records);
      assert.equal(record.destination, "v6.test:443");
      assert.equal(record.remote, "[2001:db8::7]:443");
    }));

  it("serveConnection() maps each dial error to its reply, then closes", async () => {
    const cases: Array<{
      name: string;
      request: Uint8Array;
      setup: (network: FakeNetwork) => void;
      reply: number;
      end: string;
      destination: string;
    }> = [
      {
        name: "ECONNREFUSED",
        request: CONNECT,
        setup: (n) =>
          n.onConnect(DESTINATION, {
            type: "fail",
            error: errnoError("ECONNREFUSED", "connect ECONNREFUSED"),
          }),
        reply: 0x05,
        end: "connect ECONNREFUSED",
        destination: "198.51.100.7:80",
      },
      {
        name: "ENOTFOUND",
        request: connectTo("nx.test", 80),
        setup: () => {},
        reply: 0x04,
        end: "getaddrinfo ENOTFOUND nx.test",
        destination: "nx.test:80",
      },
      {
        name: "a name without addresses",
        request: connectTo("empty.test", 80),
        setup: (n) => n.onLookup("empty.test", { addresses: [] }),
        reply: 0x04,
        end: "Cannot resolve empty.test: it has no addresses",
        destination: "empty.test:80",
      },
      {
        name: "ENETUNREACH",
        request: CONNECT,
        setup: (n) =>
          n.onConnect(DESTINATION, {
            type: "fail",
            error: errnoError("ENETUNREACH", "unreachable"),
          }),
        reply: 0x03,
        end: "unreachable",
        destination: "198.51.100.7:80",
      },
      {
        name: "a timeout",
        request: CONNECT,
        setup: (n) => n.onConnect(DESTINATION, { type: "hang" }),
        reply: 0x06,
        end: "Cannot connect to 198.51.100.7:80: timed out after 30 ms",
        destination: "198.51.100.7:80",
      },
      {
        name: "EACCES",
        request: CONNECT,
        setup: (n) =>
          n.onConnect(DESTINATION, {
            type: "fail",
            error: errnoError("EACCES", "denied"),
          }),
        reply: 0x02,
        end: "denied",
        destination: "198.51.100.7:80",
      },
      {
        name: "an unknown error",
        request: CONNECT,
        setup: (n) =>
          n.onConnect(DESTINATION, {
            type: "fail",
            error: new Error("something odd"),
          }),
        reply: 0x01,
        end: "something odd",
        destination: "198.51.100.7:80",
      },
    ];
    for (const c of cases) {
      await withServer(
        { connectTimeout: 30 },
        async ({ server, records, connect }) => {
          const { conn, reader } = connect();
          void conn.write(bytes(GREETING, c.request));
          assert.deepEqual(await reader.bytes(2), [0x05, 0x00], c.name);
          assert.deepEqual(await reader.bytes(10), failure(c.reply), c.name);
          assert.deepEqual(await reader.toEnd(), [], c.name);
          const record = await accessRecord(records);
          assert.deepEqual(withoutDuration(record), {
            level: "info",
            msg: "access",
            client: "127.0.0.1:50000",
            user: null,
            command: "connect",
            destination: c.destination,
            reply: c.reply,
            up: 0,
            down: 0,
            end: c.end,
          }, c.name);
          assert.equal(server.sessionCount("127.0.0.1"), 0, c.name);
          await waitFor(() => server.connectionCount === 0 || undefined);
        },
        c.setup,
      );
    }
  });

  it("serveConnection() closes a client that does not finish its handshake in time", () =>
    withServer(
      { handshakeTimeout: 30 },
      async ({ server, records, connect }) => {
        const { conn, reader } = connect();
        void conn.write(bytes(0x05));
        const started = Date.now();
        assert.deepEqual(await reader.toEnd(), []);
        const elapsed = Date.now() - started;
        assert.ok(elapsed >= 20 && elapsed < 500, `closed after ${elapsed} ms`);
        await waitFor(() => server.connectionCount === 0 || undefined);
        assert.deepEqual(records.filter((r) => r.msg !== "listening"), [
          {
            level: "info",
            msg: "handshake timed out",
            client: "127.0.0.1:50000",
          },
        ]);
      },
    ));

  it("serveConnection() closes at the handshake timeout without waiting for a slow login, and logs it once", () =>
    withServer({
      handshakeTimeout: 20,
      authenticate: async () => {
        await sleep(60);
        throw new Error("user store down");
      },
    }, async ({ server, records, connect }) => {
      const { conn, reader } = connect();
      void conn.write(bytes(GREETING_LOGIN, login("alice", "pw")));
      assert.deepEqual(await reader.bytes(2), [0x05, 0x02]);
      assert.deepEqual(await reader.toEnd(), []);
      await waitFor(() => server.connectionCount === 0 || undefined);
      // Closed before the store answered: no status was sent.
      assert.deepEqual(records.filter((r) => r.msg !== "listening"), [{
        level: "info",
        msg: "handshake timed out",
        client: "127.0.0.1:50000",
      }]);
      await waitFor(() => records.find((r) => r.msg === "authenticate failed"));
      await sleep(20);
      assert.deepEqual(records.filter((r) => r.msg !== "listening"), [{
        level: "info",
        msg: "handshake timed out",
        client: "127.0.0.1:50000",
      }, {
        level: "error",
        msg: "authenticate failed",
        client: "127.0.0.1:50000",
        user: "alice",
        error: "user store down",
      }]);
    }));

  it("serveConnection() serves a pipelined request from a client that half-closed while authenticate ran", () =>
    withServer({
      authenticate: async () => {
        await sleep(20);
        return true;
      },
    }, async ({ network, records, connect }) => {
      network.onConnect(DESTINATION, { type: "connect" });
      const { conn, reader } = connect();
      void conn.write(bytes(GREETING_LOGIN, login("alice", "pw"), CONNECT));
      void conn.closeWrite();
      assert.deepEqual(await reader.bytes(2), [0x05, 0x02]);
      assert.deepEqual(await reader.bytes(2), [0x01, 0x00]);
      assert.deepEqual((await reader.bytes(10)).slice(0, 2), [0x05, 0x00]);
      // The FIN that came during the login reaches the destination.
      const peer = await peerOf(network);
      assert.equal(await within(peer.read(), 1000), null);
      void peer.write(bytes("bye"));
      await peer.closeWrite();
      assert.deepEqual(await reader.toEnd(), [...bytes("bye")]);
      const record = await accessRecord(records);
      assert.equal(record.reply, 0);
      assert.equal(record.down, 3);
    }));

  it("serveConnection() closes a client that half-closed during the login without a request", () =>
    withServer({
      authenticate: async () => {
        await sleep(20);
        return true;
      },
    }, async ({ network, server, records, connect }) => {
      const { conn, reader } = connect();
      void conn.write(bytes(GREETING_LOGIN, login("alice", "pw")));
      void conn.closeWrite();
      assert.deepEqual(await reader.bytes(2), [0x05, 0x02]);
      assert.deepEqual(await reader.bytes(2), [0x01, 0x00]);
      assert.deepEqual(await reader.toEnd(), []);
      await waitFor(() => server.connectionCount === 0 || undefined);
      assert.deepEqual(network.attempts, []);
      assert.equal(records.some((r) => r.msg === "access"), false);
    }));

  it("serveConnection() does not dial for a client that timed out while authenticate ran", () =>
    withServer({
      handshakeTimeout: 20,
      authenticate: async () => {
        await sleep(60);
        return true;
      },
    }, async ({ network, server, records, connect }) => {
      network.onConnect(DESTINATION, { type: "connect" });
      const { conn, reader } = connect();
      void conn.write(bytes(GREETING_LOGIN, login("alice", "pw"), CONNECT));
      assert.deepEqual(await reader.bytes(2), [0x05, 0x02]);
      assert.deepEqual(await reader.toEnd(), []);
      await waitFor(() => server.connectionCount === 0 || undefined);
      await sleep(20);
      assert.deepEqual(network.attempts, []);
      assert.equal(records.some((r) => r.msg === "access"), false);
    }));

  it("serveConnection() does not time out a tunnel once the handshake is done", () =>
    withServer({ handshakeTimeout: 30 }, async ({ network, connect }) => {
      network.onConnect(DESTINATION, { type: "connect" });
      const { conn, reader } = connect();
      void conn.write(bytes(GREETING, CONNECT));
      assert.deepEqual((await reader.bytes(12)).slice(0, 4), [5, 0, 5, 0]);
      const peer = await peerOf(network);
      await sleep(60);
      void peer.write(bytes("still here"));
      assert.deepEqual(await reader.bytes(10), [...bytes("still here")]);
      await peer.closeWrite();
      await conn.closeWrite();
      assert.deepEqual(await reader.toEnd(), []);
    }));

  it("serveConnection() logs in a user and counts the session under the name", () =>
    withServer(
      { users: { alice: "s3cret" } },
      async ({ network, server, records, connect }) => {
        network.onConnect(DESTINATION, { type: "connect" });
        const { conn, reader } = connect();
        void conn.write(GREETING_LOGIN);
        assert.deepEqual(await reader.bytes(2), [0x05, 0x02]);
        void conn.write(login("alice", "s3cret"));
        assert.deepEqual(await reader.bytes(2), [0x01, 0x00]);
        void conn.write(CONNECT);
        assert.deepEqual((await reader.bytes(10)).slice(0, 2), [0x05, 0x00]);
        const peer = await peerOf(network);
        assert.equal(server.sessionCount("127.0.0.1", "alice"), 1);
        assert.equal(server.sessionCount("127.0.0.1"), 0);
        assert.equal(server.sessionCount("127.0.0.1", ""), 0);
        await peer.closeWrite();
        await conn.closeWrite();
        assert.deepEqual(await reader.toEnd(), []);
        const record = await accessRecord(records);
        assert.equal(record.user, "alice");
        assert.equal(server.sessionCount("127.0.0.1", "alice"), 0);
      },
    ));

  it("serveConnection() answers a wrong password with 01 01 and closes", () =>
    withServer(
      { users: { alice: "s3cret" } },
      async ({ network, server, records, connect }) => {
        const { conn, reader } = connect();
        void conn.write(
          bytes(GREETING_LOGIN, login("alice", "guess"), CONNECT),
        );
        assert.deepEqual(await reader.toEnd(), [0x05, 0x02, 0x01, 0x01]);
        await waitFor(() => server.connectionCount === 0 || undefined);
        assert.deepEqual(records.filter((r) => r.msg !== "listening"), [{
          level: "warn",
          msg: "handshake failed",
          client: "127.0.0.1:50000",
          user: "alice",
          reason: "auth_failed",
          error: "Username or password is wrong",
        }]);
        assert.deepEqual(network.attempts, []);
      },
    ));

  it("serveConnection() asks authenticate with the client's address", () => {
    const calls: unknown[][] = [];
    return withServer({
      authenticate: async (...args) => {
        calls.push(args);
        await sleep(5);
        return args[1] === "";
      },
    }, async ({ connect }) => {
      const { conn, reader } = connect();
      void conn.write(bytes(GREETING_LOGIN, login("bob", "")));
      assert.deepEqual(await reader.bytes(4), [0x05, 0x02, 0x01, 0x00]);
      assert.deepEqual(calls, [
        ["bob", "", { host: "127.0.0.1", port: 50000 }],
      ]);
      conn.close();
    });
  });

  it("serveConnection() answers a throwing authenticate as a failed login", () =>
    withServer({
      authenticate: () => {
        throw new Error("user store down");
      },
    }, async ({ server, records, connect }) => {
      const { conn, reader } = connect();
      void conn.write(bytes(GREETING_LOGIN, login("alice", "pw")));
      assert.deepEqual(await reader.toEnd(), [0x05, 0x02, 0x01, 0x01]);
      await waitFor(() => server.connectionCount === 0 || undefined);
      assert.deepEqual(records.filter((r) => r.msg !== "listening"), [{
        level: "error",
        msg: "authenticate failed",
        client: "127.0.0.1:50000",
        user: "alice",
        error: "user store down",
      }, {
        level: "warn",
        msg: "handshake failed",
        client: "127.0.0.1:50000",
        user: "alice",
        reason: "auth_failed",
        error: "Username or password is wrong",
      }]);
    }));

  it("serveConnection() fails handshakes with the bytes each one is owed", async () => {
    const cases: Array<[string, ServeOptions, Uint8Array, number[], string]> = [
      [
        "no acceptable method",
        {},
        bytes(0x05, 0x01, 0x02),
        [0x05, 0xff],
        "no_acceptable_method",
      ],
      [
        "SOCKS4",
        {},
        bytes(0x04, 0x01, 0x00, 0x50, 127, 0, 0, 1, 0),
        [0x00, 0x5b, 0, 0, 0, 0, 0, 0],
        "socks4",
      ],
      [
        "an unsupported command",
        {},
        bytes(GREETING, 0x05, 0x09, 0x00, 0x01, 1, 2, 3, 4, 0, 80),
        [0x05, 0x00, ...failure(0x07)],
        "protocol_error",
      ],
      [
        "an unsupported address type",
        {},
        bytes(GREETING, 0x05, 0x01, 0x00, 0x02, 1, 2, 3, 4, 0, 80),
        [0x05, 0x00, ...failure(0x08)],
        "protocol_error",
      ],
      [
        "a bad login version",
        { users: { a: "b" } },
        bytes(GREETING_LOGIN, 0x05, 1, "a", 1, "b"),
        [0x05, 0x02, 0x01, 0x01],
        "protocol_error",
      ],
    ];
    for (const [name, options, input, sent, reason] of cases) {
      await withServer(
        options,
        async ({ network, server, records, connect }) => {
          const { conn, reader } = connect();
          void conn.write(input);
          assert.deepEqual(await reader.toEnd(), sent, name);
          await waitFor(() => server.connectionCount === 0 || undefined);
          const failed = records.filter((r) => r.msg === "handshake failed");
          assert.equal(failed.length, 1, name);
          assert.equal(failed[0]!.level, "info", name);
          assert.equal(failed[0]!.reason, reason, name);
          assert.equal(failed[0]!.client, "127.0.0.1:50000", name);
          assert.equal(typeof failed[0]!.error, "string", name);
          assert.equal(records.some((r) => r.msg === "access"), false, name);
          assert.deepEqual(network.attempts, [], name);
        },
      );
    }
  });

  it("serveConnection() closes quietly when the client leaves mid-handshake", () =>
    withServer({}, async ({ server, records, connect }) => {
      const { conn, reader } = connect();
      void conn.write(bytes(0x05, 0x02));
      await conn.closeWrite();
      assert.deepEqual(await reader.toEnd(), []);
      await waitFor(() => server.connectionCount === 0 || undefined);
      assert.deepEqual(records.filter((r) => r.msg !== "listening"), []);
    }));

  it("serveConnection() logs a reset during the handshake at debug level", () =>
    withServer({}, async ({ server, records, connect }) => {
      const { conn } = connect();
      await sleep(5);
      conn.reset();
      await waitFor(() => server.connectionCount === 0 || undefined);
      assert.deepEqual(records.filter((r) => r.msg !== "listening"), [{
        level: "debug",
        msg: "connection failed",
        client: "127.0.0.1:50000",
        error: "Connection reset by peer",
      }]);
    }));

  it("serveConnection() adopts the outbound connection and marks relaying after the reply", async () => {
    const network = new FakeNetwork().onConnect(DESTINATION, {
      type: "connect",
    });
    const events: string[] = [];
    const [app, client] = memoryPair({ buffer: 16 });
    const reader = new ByteReader(app);
    const config = resolveOptions({ logger: { log: () => {} } });
    const state: ServerState = {
      config,
      network,
      sessions: new SessionTable(),
      limits: new Limits(config.limits),
      pending: new PendingHandshakes({ max: 0, perClient: 0, ipv6Prefix: 64 }),
      throttle: new LoginThrottle(config.loginThrottle),
      metrics: new Metrics(),
    };
    const adopted: Connection[] = [];
    const served = serveConnection(client, {
      server: state,
      scope: {
        abortOnClose: () => () => {},
        adopt: (conn) => {
          adopted.push(conn);
          events.push("adopt");
        },
        relaying: () => events.push(`relaying after ${client.writes} writes`),
      },
    });
    void app.write(bytes(GREETING, CONNECT));
    assert.deepEqual((await reader.bytes(12)).slice(0, 4), [5, 0, 5, 0]);
    const peer = await peerOf(network);
    assert.deepEqual(adopted, [network.attempts[0]!.conn]);
    assert.deepEqual(events, ["adopt", "relaying after 2 writes"]);
    assert.equal(state.sessions.total, 1);
    await peer.closeWrite();
    await app.closeWrite();
    await within(served, 1000, "serveConnection()");
    assert.equal(client.closed, true);
    assert.equal(state.sessions.total, 0);
  });

  it("serveConnection() refuses BIND without an open CONNECT tunnel", () =>
    withServer({}, async ({ network, records, connect }) => {
      const { conn, reader } = connect();
      void conn.write(
        bytes(GREETING, 0x05, 0x02, 0x00, 0x01, 0, 0, 0, 0, 0, 0),
      );
      assert.deepEqual(await reader.toEnd(), [0x05, 0x00, ...failure(0x02)]);
      const record = await accessRecord(records);
      assert.deepEqual(withoutDuration(record), {
        level: "info",
        msg: "access",
        client: "127.0.0.1:50000",
        user: null,
        command: "bind",
        destination: "0.0.0.0:0",
        reply: 0x02,
        up: 0,
        down: 0,
        end: "BIND needs an open CONNECT tunnel from this client",
      });
      assert.equal(network.listeners.length, 1);
    }));

  it("serveConnection() serves BIND with two replies and relays the peer", () =>
    withServer(
      { bindWithoutSession: true },
      async ({ network, records, connect }) => {
        const { conn, reader } = connect();
        void conn.write(
          bytes(GREETING, 0x05, 0x02, 0x00, 0x01, 198, 51, 100, 9, 0, 0),
        );
        assert.deepEqual(await reader.bytes(2), [0x05, 0x00]);
        const bound = await waitFor(() => network.listeners[1], 1000);
        assert.deepEqual(bound.address, { host: "127.0.0.1", port: 30000 });
        assert.deepEqual(
          await reader.bytes(10),
          [0x05, 0x00, 0x00, 0x01, 127, 0, 0, 1, 30000 >> 8, 30000 & 0xff],
        );
        // A stranger is turned away; the expected peer is taken.
        const stranger = bound.connect({
          from: { host: "203.0.113.1", port: 1 },
        });
        assert.equal(await within(stranger.read(), 1000), null);
        const peer = bound.connect({
          from: { host: "198.51.100.9", port: 20 },
        });
        assert.deepEqual(
          await reader.bytes(10),
          [0x05, 0x00, 0x00, 0x01, 198, 51, 100, 9, 0, 20],
        );
        void peer.write(bytes("220 ready"));
        assert.deepEqual(await reader.bytes(9), [...bytes("220 ready")]);
        void conn.write(bytes("STOR"));
        assert.deepEqual(
          await new ByteReader(peer).bytes(4),
          [...bytes("STOR")],
        );
        await peer.closeWrite();
        await conn.closeWrite();
        assert.deepEqual(await reader.toEnd(), []);
        assert.equal(bound.closed, true);
        const record = await accessRecord(records);
        assert.deepEqual(withoutDuration(record), {
          level: "info",
          msg: "access",
          client: "127.0.0.1:50000",
          user: null,
          command: "bind",
          destination: "198.51.100.9:0",
          reply: 0x00,
          up: 4,
          down: 9,
          remote: "198.51.100.9:20",
          end: "closed",
        });
        assert.equal(
          records.filter((r) => r.msg === "bind refused a peer").length,
          1,
        );
      },
    ));

  it("serveConnection() serves UDP ASSOCIATE while the control connection lives", () =>
    withServer({}, async ({ network, records, connect }) => {
      const { conn, reader } = connect();
      void conn.write(
        bytes(GREETING, 0x05, 0x03, 0x00, 0x01, 0, 0, 0, 0, 0, 0),
      );
      assert.deepEqual(await reader.bytes(2), [0x05, 0x00]);
      const relaySocket = await waitFor(() => network.udpSockets[0], 1000);
      const port = relaySocket.address.port;
      assert.deepEqual(relaySocket.address, { host: "127.0.0.1", port });
      assert.deepEqual(
        await reader.bytes(10),
        [0x05, 0x00, 0x00, 0x01, 127, 0, 0, 1, port >> 8, port & 0xff],
      );
      relaySocket.deliver({
        host: "127.0.0.1",
        port: 5000,
        data: encodeUdpDatagram({
          frag: 0,
          destination: { type: 0x01, host: DESTINATION, port: 53 },
          data: bytes("query"),
        }),
      });
      const outbound = await waitFor(() => network.udpSockets[1], 1000);
      await waitFor(() => outbound.sent[0], 1000);
      assert.deepEqual(outbound.sent, [
        { host: DESTINATION, port: 53, data: bytes("query") },
      ]);
      outbound.deliver({ host: DESTINATION, port: 53, data: bytes("answer") });
      assert.deepEqual(relaySocket.sent, [{
        host: "127.0.0.1",
        port: 5000,
        data: encodeUdpDatagram({
          frag: 0,
          destination: { type: 0x01, host: DESTINATION, port: 53 },
          data: bytes("answer"),
        }),
      }]);
      await conn.closeWrite();
      assert.deepEqual(await reader.toEnd(), []);
      const record = await accessRecord(records);
      assert.deepEqual(withoutDuration(record), {
        level: "info",
        msg: "access",
        client: "127.0.0.1:50000",
        user: null,
        command: "udp",
        destination: "0.0.0.0:0",
        reply: 0x00,
        up: 5,
        down: 6,
        datagramsUp: 1,
        datagramsDown: 1,
        dropped: 0,
        end: "closed",
      });
      assert.equal(relaySocket.closed, true);
      assert.equal(outbound.closed, true);
    }));
});
