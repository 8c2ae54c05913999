import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { exchange } from "../_helpers/e2e/bulk.ts";
import {
  accessRecord,
  type Proxy,
  socksConnect,
  startProxy,
} from "../_helpers/e2e/proxy.ts";
import { RawSocket } from "../_helpers/e2e/raw_socket.ts";
import { connectFrom } from "../_helpers/e2e/socks_session.ts";
import {
  type BindClient,
  freePortRange,
  occupy,
  rawRequest,
  socksBind,
  tryConnect,
} from "../_helpers/e2e/socks_bind.ts";
import {
  type Credentials,
  type Endpoint,
  failureReply,
  greeting,
  readReply,
  request,
} from "../_helpers/e2e/socks_raw.ts";
import { startEchoServer, type TcpServer } from "../_helpers/e2e/tcp_server.ts";
import { eventually } from "../_helpers/e2e/with_timeout.ts";

const alice = { username: "alice", password: "s3cret" };
const bob = { username: "bob", password: "hunter2" };
const ANY4 = { host: "0.0.0.0", port: 0 };
const BIND = 0x02;
const MB = 1024 * 1024;
const encoder = new TextEncoder();

function bytes(text: string): Uint8Array {
  return encoder.encode(text);
}

// A CONNECT tunnel to `echo` held open, the session BIND needs; checked to
// carry bytes, so the server has registered it.
async function holdSession(
  proxy: Endpoint,
  echo: Endpoint,
  credentials?: Credentials,
): Promise<RawSocket> {
  const { socket } = await socksConnect(proxy, echo, credentials);
  const raw = new RawSocket(socket);
  const ping = bytes("session");
  await raw.write(ping);
  assert.deepEqual(await raw.read(ping.length), ping);
  return raw;
}

// Sends a line each way through an established BIND and checks both arrive.
async function pingPong(near: RawSocket, far: RawSocket): Promise<void> {
  const up = bytes("from the client");
  const down = bytes("from the far side");
  await near.write(up);
  assert.deepEqual(await far.read(up.length), up);
  await far.write(down);
  assert.deepEqual(await near.read(down.length), down);
}

describe("BIND over real sockets", () => {
  let echo: TcpServer;
  let echo6: TcpServer;
  let open: Proxy;
  let open6: Endpoint;
  let loose: Proxy;
  let login: Proxy;

  before(async () => {
    echo = await startEchoServer("127.0.0.1");
    echo6 = await startEchoServer("::1");
    open = await startProxy({ listen: ["127.0.0.1:0", "[::1]:0"] });
    open6 = open.server.addresses[1]!;
    loose = await startProxy({ bindWithoutSession: true });
    login = await startProxy({
      users: { alice: alice.password, bob: bob.password },
    });
  });

  after(async () => {
    await open?.server.close({ gracePeriod: 0 });
    await loose?.server.close({ gracePeriod: 0 });
    await login?.server.close({ gracePeriod: 0 });
    await echo?.close();
    await echo6?.close();
  });

  // The session table is per client address, shared by every test here.
  async function noSessions(proxy: Proxy, user: string | null = null) {
    await eventually(
      () => proxy.server.sessionCount("127.0.0.1", user) === 0,
      5_000,
      "earlier tests' CONNECT sessions to close",
    );
  }

  it("relays 1 MB each way with the far side after a CONNECT session", async () => {
    const session = await holdSession(open.endpoint, echo);
    let bind: BindClient | undefined;
    let far: RawSocket | undefined;
    try {
      assert.equal(open.server.sessionCount("127.0.0.1"), 1);
      bind = await socksBind(open.endpoint, ANY4);
      const bound = await bind.bound(5_000);
      // The interface the session's tunnel leaves from.
      assert.equal(bound.host, "127.0.0.1");
      assert.ok(bound.port > 0, `BND.PORT ${bound.port}`);
      far = await RawSocket.connect(bound.host, bound.port);
      const { peer, raw } = await bind.established(5_000);
      assert.deepEqual(peer, {
        host: far.socket.localAddress,
        port: far.localPort,
      });
      const [near, remote] = await Promise.all([
        exchange(raw, MB),
        exchange(far, MB),
      ]);
      assert.equal(near.sent, MB);
      assert.equal(remote.sent, MB);
      assert.equal(near.received, MB);
      assert.equal(remote.received, MB);
      assert.equal(remote.receivedSha256, near.sentSha256, "client → far");
      assert.equal(near.receivedSha256, remote.sentSha256, "far → client");
      const record = await accessRecord(open, `127.0.0.1:${bind.localPort}`);
      assert.equal(record.up, MB);
      assert.equal(record.down, MB);
    } finally {
      far?.destroy();
      bind?.destroy();
      session.destroy();
    }
  });

  it("answers BIND without a session with 05 02 00 01 0…0 and closes", async () => {
    await noSessions(open);
    const { raw, reply } = await rawRequest(open.endpoint, ANY4, {
      command: BIND,
    });
    try {
      assert.deepEqual(reply.bytes, failureReply(0x02));
      assert.deepEqual(await raw.readToEnd(), new Uint8Array(0));
      const record = await accessRecord(open, `127.0.0.1:${raw.localPort}`);
      assert.equal(record.command, "bind");
      assert.equal(record.reply, 0x02);
      assert.equal(
        record.end,
        "BIND needs an open CONNECT tunnel from this client",
      );
    } finally {
      raw.destroy();
    }
  });

  it("serves BIND without a session when bindWithoutSession is set", async () => {
    assert.equal(loose.server.sessionCount("127.0.0.1"), 0);
    const bind = await socksBind(loose.endpoint, ANY4);
    let far: RawSocket | undefined;
    try {
      const bound = await bind.bound(5_000);
      // No session: the interface the client reached the proxy on.
      assert.equal(bound.host, "127.0.0.1");
      far = await RawSocket.connect(bound.host, bound.port);
      const { peer, raw } = await bind.established(5_000);
      assert.deepEqual(peer, { host: "127.0.0.1", port: far.localPort });
      await pingPong(raw, far);
    } finally {
      far?.destroy();
      bind.destroy();
    }
  });

  it("lets alice's session serve alice's BIND but not bob's", async () => {
    await noSessions(login, "alice");
    const session = await holdSession(login.endpoint, echo, alice);
    let bind: BindClient | undefined;
    let far: RawSocket | undefined;
    try {
      assert.equal(login.server.sessionCount("127.0.0.1", "alice"), 1);
      assert.equal(login.server.sessionCount("127.0.0.1", "bob"), 0);
      const refused = await rawRequest(login.endpoint, ANY4, {
        command: BIND,
        credentials: bob,
      });
      try {
        assert.deepEqual(refused.reply.bytes, failureReply(0x02));
        assert.deepEqual(await refused.raw.readToEnd(), new Uint8Array(0));
      } finally {
        refused.raw.destroy();
      }
      const record = await accessRecord(
        login,
        `127.0.0.1:${refused.raw.localPort}`,
      );
      assert.equal(record.user, "bob");
      assert.equal(record.reply, 0x02);

      bind = await socksBind(login.endpoint, ANY4, alice);
      const bound = await bind.bound(5_000);
      far = await RawSocket.connect(bound.host, bound.port);
      const { peer, raw } = await bind.established(5_000);
      assert.deepEqual(peer, { host: "127.0.0.1", port: far.localPort });
      await pingPong(raw, far);
    } finally {
      far?.destroy();
      bind?.destroy();
      session.destroy();
    }
  });

  it("turns away a peer from another address than DST.ADDR and keeps waiting", async () => {
    const session = await holdSession(open.endpoint, echo);
    let bind: BindClient | undefined;
    let wrong: RawSocket | undefined;
    let right: RawSocket | undefined;
    try {
      bind = await socksBind(open.endpoint, { host: "127.0.0.1", port: 0 });
      const bound = await bind.bound(5_000);
      let settled = false;
      const established = bind.established(10_000);
      established.then(() => settled = true, () => settled = true);

      wrong = await connectFrom(bound, "127.0.0.2");
      const wrongPeer = `127.0.0.2:${wrong.localPort}`;
      const ending = await wrong.ended(5_000);
      assert.equal(wrong.received, 0, "the wrong peer gets no byte");
      assert.equal(
        ending.error === null || /ECONNRESET/.test(ending.error.message),
        true,
        `closed or reset, not ${ending.error?.message}`,
      );
      const refusal = await open.logger.waitFor(
        (r) => r.msg === "bind refused a peer" && r.peer === wrongPeer,
        5_000,
        `a "bind refused a peer" record for ${wrongPeer}`,
      );
      assert.equal(refusal.client, `127.0.0.1:${bind.localPort}`);
      assert.equal(refusal.level, "info");
      assert.equal(settled, false, "no second reply for the wrong peer");

      right = await connectFrom(bound, "127.0.0.1");
      const { peer, raw } = await established;
      assert.deepEqual(peer, { host: "127.0.0.1", port: right.localPort });
      await pingPong(raw, right);
    } finally {
      wrong?.destroy();
      right?.destroy();
      bind?.destroy();
      session.destroy();
    }
  });

  it("replies 05 06 after bindTimeout with no peer, closes and frees the port", async () => {
    const timed = await startProxy({
      bindWithoutSession: true,
      bindTimeout: 300,
    });
    try {
      const { raw, reply } = await rawRequest(timed.endpoint, ANY4, {
        command: BIND,
      });
      try {
        const started = Date.now();
        assert.equal(reply.reply, 0x00);
        assert.equal(reply.atyp, 0x01);
        assert.equal(reply.host, "127.0.0.1");
        assert.deepEqual(await raw.read(10, 5_000), failureReply(0x06));
        const waited = Date.now() - started;
        // The timer starts as the first reply goes out.
        assert.ok(waited >= 250, `second reply after ${waited} ms`);
        assert.deepEqual(await raw.readToEnd(), new Uint8Array(0));
        const record = await accessRecord(
          timed,
          `127.0.0.1:${raw.localPort}`,
        );
        assert.equal(record.reply, 0x06);
        assert.equal(record.end, "no connection within 300 ms");
        assert.equal(await tryConnect("127.0.0.1", reply.port), "refused");
      } finally {
        raw.destroy();
      }

      // The socks client reports the same reply as a rejected connection.
      const bind = await socksBind(timed.endpoint, ANY4);
      try {
        await bind.bound(5_000);
        await assert.rejects(
          bind.established(5_000),
          /Socks5 Proxy rejected incoming bound connection - TTLExpired/,
        );
      } finally {
        bind.destroy();
      }
    } finally {
      await timed.server.close({ gracePeriod: 0 });
    }
  });

  it("relays bytes pipelined after the BIND request to the far side", async () => {
    const raw = await RawSocket.connect("127.0.0.1", loose.endpoint.port);
    let far: RawSocket | undefined;
    try {
      const early = bytes("early");
      // Greeting, request and data in one write, as a pipelining client
      // sends them.
      await raw.write(
        new Uint8Array([
          ...greeting([0x00]),
          ...request(ANY4, BIND),
          ...early,
        ]),
      );
      assert.deepEqual(await raw.read(2), new Uint8Array([0x05, 0x00]));
      const first = await readReply(raw);
      assert.equal(first.reply, 0x00);
      far = await RawSocket.connect(first.host, first.port);
      const second = await readReply(raw);
      assert.deepEqual(
        second.bytes,
        new Uint8Array([
          0x05,
          0x00,
          0x00,
          0x01,
          127,
          0,
          0,
          1,
          far.localPort >> 8,
          far.localPort & 0xff,
        ]),
      );
      assert.deepEqual(await far.read(early.length, 2_000), early);
      await pingPong(raw, far);
      await raw.end();
      await far.readToEnd();
      await far.end();
      await raw.readToEnd();
      const record = await accessRecord(loose, `127.0.0.1:${raw.localPort}`);
      assert.equal(record.up, early.length + "from the client".length);
      assert.equal(record.down, "from the far side".length);
    } finally {
      far?.destroy();
      raw.destroy();
    }
  });

  it("stops listening once the peer is accepted", async () => {
    const bind = await socksBind(loose.endpoint, ANY4);
    let far: RawSocket | undefined;
    try {
      const bound = await bind.bound(5_000);
      far = await RawSocket.connect(bound.host, bound.port);
      const { raw } = await bind.established(5_000);
      assert.equal(await tryConnect(bound.host, bound.port), "refused");
      await pingPong(raw, far);
    } finally {
      far?.destroy();
      bind.destroy();
    }
  });

  it("stops listening when the client leaves before any peer", async () => {
    const bind = await socksBind(loose.endpoint, ANY4);
    const client = `127.0.0.1:${bind.localPort}`;
    try {
      const bound = await bind.bound(5_000);
      bind.destroy();
      // Logged once the handler is done, the listener closed with it.
      const record = await accessRecord(loose, client);
      assert.equal(record.end, "client closed while waiting");
      assert.equal(record.reply, 0x00);
      assert.equal(await tryConnect(bound.host, bound.port), "refused");
    } finally {
      bind.destroy();
    }
  });

  it("stops listening when the client leaves after sending early data", async () => {
    // A short bindTimeout: were the client's leaving missed, the port would
    // stay open this long and the test would see it.
    const proxy = await startProxy({
      bindWithoutSession: true,
      bindTimeout: 2_000,
    });
    try {
      const { raw, reply } = await rawRequest(proxy.endpoint, ANY4, {
        command: BIND,
      });
      const client = `127.0.0.1:${raw.localPort}`;
      try {
        assert.equal(reply.reply, 0x00);
        await raw.write(bytes("early"));
      } finally {
        raw.destroy();
      }
      await proxy.logger.waitFor(
        (r) => r.msg === "access" && r.client === client,
        1_000,
        `the access record of ${client}, well before bindTimeout`,
      );
      const record = await accessRecord(proxy, client);
      assert.equal(record.end, "client closed while waiting");
      assert.equal(await tryConnect("127.0.0.1", reply.port), "refused");
    } finally {
      await proxy.server.close({ gracePeriod: 0 });
    }
  });

  it("listens in bindPorts, skipping ports in use", async () => {
    const [low, high] = await freePortRange("127.0.0.1", 3);
    const ranged = await startProxy({
      bindWithoutSession: true,
      bindPorts: [low, high],
    });
    try {
      const first = await socksBind(ranged.endpoint, ANY4);
      try {
        const { port } = await first.bound(5_000);
        assert.ok(low <= port && port <= high, `${port} in ${low}-${high}`);
      } finally {
        first.destroy();
      }
      await accessRecord(ranged, `127.0.0.1:${first.localPort}`);

      // With two of the three taken, only the third is left.
      const held = [
        await occupy("127.0.0.1", low),
        await occupy("127.0.0.1", low + 1),
      ];
      try {
        const second = await socksBind(ranged.endpoint, ANY4);
        try {
          assert.equal((await second.bound(5_000)).port, high);
        } finally {
          second.destroy();
        }
      } finally {
        for (const server of held) await server.close();
      }
    } finally {
      await ranged.server.close({ gracePeriod: 0 });
    }
  });

  it("binds on ::1 for a CONNECT session over IPv6", async () => {
    const session = await holdSession(open6, echo6);
    let bind: BindClient | undefined;
    let far: RawSocket | undefined;
    try {
      assert.equal(open.server.sessionCount("::1"), 1);
      bind = await socksBind(open6, { host: "::", port: 0 });
      const bound = await bind.bound(5_000);
      assert.equal(bound.host, "::1");
      far = await RawSocket.connect("::1", bound.port);
      const { peer, raw } = await bind.established(5_000);
      assert.deepEqual(peer, { host: "::1", port: far.localPort });
      await pingPong(raw, far);
      await raw.end();
      assert.deepEqual(await far.readToEnd(), new Uint8Array(0));
      await far.end();
      assert.deepEqual(await raw.readToEnd(), new Uint8Array(0));
      const record = await accessRecord(open, `[::1]:${bind.localPort}`);
      assert.equal(record.remote, `[::1]:${far.localPort}`);
      assert.equal(record.destination, "[::]:0");
    } finally {
      far?.destroy();
      bind?.destroy();
      session.destroy();
    }
  });

  it("logs one bind access record with the peer and the byte counts", async () => {
    const session = await holdSession(open.endpoint, echo);
    let bind: BindClient | undefined;
    let far: RawSocket | undefined;
    try {
      bind = await socksBind(open.endpoint, ANY4);
      const bound = await bind.bound(5_000);
      far = await RawSocket.connect(bound.host, bound.port);
      const { raw } = await bind.established(5_000);
      const up = bytes("twelve bytes");
      const down = bytes("seven b");
      await raw.write(up);
      assert.deepEqual(await far.read(up.length), up);
      await far.write(down);
      assert.deepEqual(await raw.read(down.length), down);
      await raw.end();
      assert.deepEqual(await far.readToEnd(), new Uint8Array(0));
      await far.end();
      assert.deepEqual(await raw.readToEnd(), new Uint8Array(0));
      const record = await accessRecord(open, `127.0.0.1:${bind.localPort}`);
      assert.equal(record.level, "info");
      assert.equal(record.command, "bind");
      assert.equal(record.user, null);
      assert.equal(record.destination, "0.0.0.0:0");
      assert.equal(record.reply, 0x00);
      assert.equal(record.remote, `127.0.0.1:${far.localPort}`);
      assert.equal(record.up, 12);
      assert.equal(record.down, 7);
      assert.equal(record.end, "closed");
    } finally {
      far?.destroy();
      bind?.destroy();
      session.destroy();
    }
  });
});
