import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { SocksAuthError, SocksReplyError } from "../../src/client/errors.ts";
import { ReplyError } from "../../src/net/dial_error.ts";
import type { LogRecord } from "../../src/observe/logger.ts";
import { startServer } from "../../src/server/server.ts";
import { upstreamNetwork } from "../../src/server/upstream.ts";
import { errnoError, FakeNetwork } from "../_helpers/fake_network.ts";
import {
  ByteReader,
  bytes,
  readBytes,
  waitFor,
  within,
} from "../_helpers/memory_connection.ts";
import { answerHandshake, successReply } from "../client/_proxy_script.ts";

const UPSTREAM = { host: "10.0.0.1", port: 1080 };

function baseNetwork(): FakeNetwork {
  return new FakeNetwork()
    .onLookup("example.test", { addresses: ["192.0.2.80", "2001:db8::80"] })
    .onLookup("upstream.test", { addresses: ["10.0.0.1"] })
    .onConnect("10.0.0.1", {
      type: "connect",
      buffer: 8,
      local: { host: "10.0.0.2", port: 41000 },
    });
}

describe("upstreamNetwork()", () => {
  it("socks5h: lookup() returns the name itself, without asking base", async () => {
    const base = baseNetwork();
    const network = upstreamNetwork(base, { ...UPSTREAM, resolve: "proxy" });
    assert.deepEqual(await network.lookup("example.test"), ["example.test"]);
    assert.deepEqual(base.lookups, []);
  });

  it("socks5h is the default when resolve is not given", async () => {
    const network = upstreamNetwork(baseNetwork(), UPSTREAM);
    assert.deepEqual(await network.lookup("example.test"), ["example.test"]);
  });

  it("socks5: lookup() resolves through base", async () => {
    const base = baseNetwork();
    const network = upstreamNetwork(base, { ...UPSTREAM, resolve: "local" });
    assert.deepEqual(await network.lookup("example.test"), [
      "192.0.2.80",
      "2001:db8::80",
    ]);
    assert.deepEqual(base.lookups.map((l) => l.name), ["example.test"]);
  });

  it("listen() and bindUdp() are base's", async () => {
    const base = baseNetwork();
    const network = upstreamNetwork(base, UPSTREAM);
    const listener = await network.listen({ host: "127.0.0.1", port: 0 });
    assert.equal(listener, base.listeners[0]);
    const socket = await network.bindUdp(
      { host: "127.0.0.1", port: 0 },
      () => {},
    );
    assert.equal(socket, base.udpSockets[0]);
    listener.close();
    socket.close();
  });

  it("connect() logs in to the upstream and asks it for the name", async () => {
    const base = baseNetwork();
    const network = upstreamNetwork(base, {
      host: "upstream.test",
      port: 1080,
      credentials: { username: "alice", password: "s3cret" },
    });
    const connecting = network.connect({ host: "example.test", port: 443 });
    const upstream = await waitFor(() => base.attempts[0]?.peer);
    assert.deepEqual(
      [base.attempts[0]!.host, base.attempts[0]!.port],
      ["10.0.0.1", 1080],
    );
    const { heard, reader } = await answerHandshake(upstream, {
      reply: bytes(successReply("10.0.0.1", 50000), "banner"),
    });
    assert.deepEqual(heard.greeting, [0x05, 0x02, 0x00, 0x02]);
    assert.deepEqual(heard.login, [
      1,
      5,
      ...bytes("alice"),
      6,
      ...bytes("s3cret"),
    ]);
    assert.deepEqual(heard.request, [
      0x05,
      0x01,
      0x00,
      0x03,
      12,
      ...bytes("example.test"),
      0x01,
      0xbb,
    ]);
    const conn = await within(connecting, 1000, "connect()");
    assert.deepEqual(conn.localAddress, { host: "10.0.0.2", port: 41000 });
    assert.deepEqual(conn.remoteAddress, UPSTREAM);
    assert.deepEqual([...(await conn.read())!], [...bytes("banner")]);
    await conn.write(bytes("up"));
    assert.deepEqual(await reader.bytes(2), [...bytes("up")]);
    conn.close();
  });

  it("connect() sends an address as an address", async () => {
    const base = baseNetwork();
    const network = upstreamNetwork(base, { ...UPSTREAM, resolve: "local" });
    const connecting = network.connect({ host: "2001:db8::80", port: 80 });
    const upstream = await waitFor(() => base.attempts[0]?.peer);
    const { heard } = await answerHandshake(upstream);
    assert.deepEqual(heard.request, [
      0x05,
      0x01,
      0x00,
      0x04,
      0x20,
      0x01,
      0x0d,
      0xb8,
      ...new Array(11).fill(0),
      0x80,
      0,
      80,
    ]);
    (await within(connecting, 1000)).close();
  });

  for (const code of [2, 3, 4, 5, 6, 8]) {
    it(`connect() rejects with ReplyError 0x0${code} when the upstream replies 0x0${code}`, async () => {
      const base = baseNetwork();
      const network = upstreamNetwork(base, UPSTREAM);
      const connecting = network.connect({ host: "example.test", port: 80 });
      const upstream = await waitFor(() => base.attempts[0]?.peer);
      await answerHandshake(upstream, {
        reply: bytes(0x05, code, 0x00, 0x01, 0, 0, 0, 0, 0, 0),
      });
      await assert.rejects(within(connecting, 1000), (error: unknown) => {
        assert.ok(error instanceof ReplyError);
        assert.equal(error.reply, code);
        assert.ok(error.cause instanceof SocksReplyError);
        assert.match(
          error.message,
          /^Cannot connect to example\.test:80 through upstream proxy 10\.0\.0\.1:1080: SOCKS5 proxy replied 0x0\d: /,
        );
        return true;
      });
      assert.equal(base.attempts[0]!.conn!.closed, true);
    });
  }

  it("connect() rejects with ReplyError 0x01 when the upstream refuses the login", async () => {
    const base = baseNetwork();
    const network = upstreamNetwork(base, {
      ...UPSTREAM,
      credentials: { username: "u", password: "p" },
    });
    const connecting = network.connect({ host: "example.test", port: 80 });
    const upstream = await waitFor(() => base.attempts[0]?.peer);
    await readBytes(upstream, 4);
    await upstream.write(bytes(0x05, 0x02));
    await readBytes(upstream, 5);
    await upstream.write(bytes(0x01, 0x01));
    await assert.rejects(within(connecting, 1000), (error: unknown) => {
      assert.ok(error instanceof ReplyError);
      assert.equal(error.reply, 1);
      assert.ok(error.cause instanceof SocksAuthError);
      assert.equal(
        error.message,
        "Cannot connect to example.test:80 through upstream proxy 10.0.0.1:1080: SOCKS5 proxy refused the login: status 0x01",
      );
      return true;
    });
  });

  it("connect() rejects with ReplyError 0x01 when the upstream cannot be reached", async () => {
    const base = new FakeNetwork().onConnect("10.0.0.1", {
      type: "fail",
      error: errnoError("ECONNREFUSED", "connect ECONNREFUSED 10.0.0.1:1080"),
    });
    const network = upstreamNetwork(base, UPSTREAM);
    await assert.rejects(
      network.connect({ host: "192.0.2.1", port: 80 }),
      (error: unknown) => {
        assert.ok(error instanceof ReplyError);
        assert.equal(error.reply, 1, "the destination did not refuse");
        assert.equal(
          error.message,
          "Cannot connect to 192.0.2.1:80 through upstream proxy 10.0.0.1:1080: connect ECONNREFUSED 10.0.0.1:1080",
        );
        return true;
      },
    );
  });

  it("connect() rejects with the signal's reason once aborted", async () => {
    const base = baseNetwork();
    const network = upstreamNetwork(base, UPSTREAM);
    const controller = new AbortController();
    const connecting = network.connect({
      host: "192.0.2.1",
      port: 80,
      signal: controller.signal,
    });
    const upstream = await waitFor(() => base.attempts[0]?.peer);
    await readBytes(upstream, 3);
    const reason = new Error("connect timeout");
    controller.abort(reason);
    await assert.rejects(within(connecting, 1000), (error) => error === reason);
    assert.equal(base.attempts[0]!.conn!.closed, true);
  });
});

describe("a server on upstreamNetwork()", () => {
  async function start(resolve: "proxy" | "local") {
    const base = baseNetwork();
    const records: LogRecord[] = [];
    const server = await startServer(
      upstreamNetwork(base, { ...UPSTREAM, resolve }),
      {
        listen: "127.0.0.1:1080",
        logger: { log: (record) => records.push(record) },
      },
    );
    return { base, server, records, listener: base.listener(0) };
  }

  it("relays a CONNECT by name through the upstream, the name unresolved", async () => {
    const { base, server, listener } = await start("proxy");
    try {
      const client = listener.connect({ buffer: 16 });
      const reader = new ByteReader(client);
      void client.write(
        bytes(
          0x05,
          0x01,
          0x00,
          0x05,
          0x01,
          0x00,
          0x03,
          12,
          "example.test",
          0,
          80,
        ),
      );
      const upstream = await waitFor(() => base.attempts[0]?.peer);
      const { heard, reader: upstreamReader } = await answerHandshake(
        upstream,
        { reply: bytes(successReply("10.0.0.1", 50000), "hello") },
      );
      assert.deepEqual(heard.request, [
        0x05,
        0x01,
        0x00,
        0x03,
        12,
        ...bytes("example.test"),
        0,
        80,
      ]);
      assert.deepEqual(await reader.bytes(2), [0x05, 0x00]);
      // BND is our outbound socket's local address, as for a direct CONNECT.
      assert.deepEqual(
        await reader.bytes(10),
        [0x05, 0x00, 0x00, 0x01, 10, 0, 0, 2, 41000 >> 8, 41000 & 0xff],
      );
      assert.deepEqual(await reader.bytes(5), [...bytes("hello")]);
      await client.write(bytes("ping"));
      assert.deepEqual(await upstreamReader.bytes(4), [...bytes("ping")]);
      assert.deepEqual(base.lookups, [], "no lookup on this host");
      client.close();
    } finally {
      await within(server.close({ gracePeriod: 0 }), 1000, "close()");
    }
  });

  it("gives the client the upstream's failure reply code", async () => {
    const { base, server, listener } = await start("local");
    try {
      const client = listener.connect({ buffer: 16 });
      void client.write(
        bytes(0x05, 0x01, 0x00, 0x05, 0x01, 0x00, 0x01, 192, 0, 2, 1, 0, 25),
      );
      const upstream = await waitFor(() => base.attempts[0]?.peer);
      await answerHandshake(upstream, {
        reply: bytes(0x05, 0x02, 0x00, 0x01, 0, 0, 0, 0, 0, 0),
      });
      assert.deepEqual(await new ByteReader(client).toEnd(), [
        0x05,
        0x00,
        0x05,
        0x02,
        0x00,
        0x01,
        0,
        0,
        0,
        0,
        0,
        0,
      ]);
    } finally {
      await within(server.close({ gracePeriod: 0 }), 1000, "close()");
    }
  });
});
