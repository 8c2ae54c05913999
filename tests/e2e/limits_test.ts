import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { ServeOptions } from "../../mod.ts";
import { parseExposition } from "../_helpers/e2e/exposition.ts";
import { type Proxy, startProxy } from "../_helpers/e2e/proxy.ts";
import { hex, type RawSocket } from "../_helpers/e2e/raw_socket.ts";
import {
  type Credentials,
  type Endpoint,
  failureReply,
} from "../_helpers/e2e/socks_raw.ts";
import {
  assertClosedUnanswered,
  CMD,
  connectFrom,
  type SessionOptions,
  socksRequest,
} from "../_helpers/e2e/socks_session.ts";
import { startEchoServer, type TcpServer } from "../_helpers/e2e/tcp_server.ts";
import { eventually } from "../_helpers/e2e/with_timeout.ts";

const alice: Credentials = { username: "alice", password: "s3cret" };
const bob: Credentials = { username: "bob", password: "hunter2" };
const users = { alice: alice.password, bob: bob.password };
const anywhere: Endpoint = { host: "0.0.0.0", port: 0 };
const encoder = new TextEncoder();

// Closes every socket a test opened, whatever happened.
class Sockets {
  readonly #open: RawSocket[] = [];

  add(raw: RawSocket): RawSocket {
    this.#open.push(raw);
    return raw;
  }

  destroyAll(): void {
    for (const raw of this.#open) raw.destroy();
  }
}

async function withProxy(
  options: ServeOptions,
  body: (proxy: Proxy, sockets: Sockets) => Promise<void>,
): Promise<void> {
  const proxy = await startProxy(options);
  const sockets = new Sockets();
  try {
    await body(proxy, sockets);
  } finally {
    sockets.destroyAll();
    await proxy.server.close({ gracePeriod: 0 });
  }
}

// An open tunnel through the proxy to `echo`, checked both ways.
async function tunnel(
  proxy: Proxy,
  sockets: Sockets,
  echo: Endpoint,
  options: SessionOptions = {},
): Promise<RawSocket> {
  const { raw, reply } = await socksRequest(proxy.endpoint, echo, options);
  sockets.add(raw);
  assert.equal(reply.reply, 0x00, "the tunnel opens");
  const payload = encoder.encode("through the tunnel");
  await raw.write(payload);
  assert.deepEqual(await raw.read(payload.length), payload);
  return raw;
}

// A request refused by a per-user limit: it gets as far as the request,
// then `05 01 00 01 00*6` and a close; the access record names the limit.
async function assertLimitReply(
  proxy: Proxy,
  destination: Endpoint,
  options: SessionOptions & { limit: string; logged: string },
): Promise<void> {
  const { raw, reply } = await socksRequest(
    proxy.endpoint,
    destination,
    options,
  );
  try {
    assert.equal(hex(reply.bytes), hex(failureReply(0x01)));
    assert.equal((await raw.readToEnd()).length, 0, "closed after the reply");
  } finally {
    raw.destroy();
  }
  const client = `127.0.0.1:${raw.localPort}`;
  const record = await proxy.logger.waitFor(
    (r) => r.msg === "access" && r.client === client,
    5_000,
    `the access record of ${client}`,
  );
  assert.equal(record.command, options.logged);
  assert.equal(record.user, options.credentials?.username ?? null);
  assert.equal(record.reply, 0x01);
  assert.equal(record.end, `limit ${options.limit}`);
}

// A connection refused at accept by a connection limit.
async function assertRefusedAtAccept(
  proxy: Proxy,
  limit: string,
  from?: string,
): Promise<void> {
  const raw = await connectFrom(proxy.endpoint, from);
  try {
    await assertClosedUnanswered(raw);
  } finally {
    raw.destroy();
  }
  const client = `${from ?? "127.0.0.1"}:${raw.localPort}`;
  const record = await proxy.logger.waitFor(
    (r) => r.msg === "refused" && r.client === client,
    5_000,
    `the refused record of ${client}`,
  );
  assert.equal(record.reason, limit);
}

function metric(proxy: Proxy, key: string): number | undefined {
  return parseExposition(proxy.server.metrics.render()).get(key);
}

const REFUSED_LIMIT = 'edgesocks_connections_refused_total{reason="limit"}';
const REFUSED_PENDING =
  'edgesocks_connections_refused_total{reason="pending_full"}';

describe("limits over real sockets", () => {
  let echo: TcpServer;

  before(async () => {
    echo = await startEchoServer("127.0.0.1");
  });

  after(async () => {
    await echo?.close();
  });

  it("maxConnections closes the connection over the cap at once", async () => {
    await withProxy(
      { limits: { maxConnections: 1 } },
      async (proxy, sockets) => {
        const first = await tunnel(proxy, sockets, echo);
        await assertRefusedAtAccept(proxy, "maxConnections");
        await assertRefusedAtAccept(proxy, "maxConnections", "127.0.0.2");
        assert.equal(metric(proxy, REFUSED_LIMIT), 2);
        first.destroy();
        await eventually(
          () => proxy.server.connectionCount === 0,
          5_000,
          "the first connection to go",
        );
        await tunnel(proxy, sockets, echo);
        assert.equal(metric(proxy, REFUSED_LIMIT), 2);
      },
    );
  });

  it("maxConnectionsPerClient refuses a second connection from the same address only", async () => {
    await withProxy(
      { limits: { maxConnectionsPerClient: 1 } },
      async (proxy, sockets) => {
        await tunnel(proxy, sockets, echo);
        await assertRefusedAtAccept(proxy, "maxConnectionsPerClient");
        await tunnel(proxy, sockets, echo, { from: "127.0.0.2" });
        assert.equal(metric(proxy, REFUSED_LIMIT), 1);
        assert.equal(
          metric(proxy, "edgesocks_connections_accepted_total"),
          2,
        );
      },
    );
  });

  it("maxConnectionsPerUser answers 0x01 to the user's next request; other users go on", async () => {
    await withProxy(
      { users, limits: { maxConnectionsPerUser: 1 } },
      async (proxy, sockets) => {
        await tunnel(proxy, sockets, echo, { credentials: alice });
        await assertLimitReply(proxy, echo, {
          credentials: alice,
          limit: "maxConnectionsPerUser",
          logged: "connect",
        });
        await tunnel(proxy, sockets, echo, { credentials: bob });
        // Refused after the handshake: a reply, not a refused connection.
        assert.equal(
          metric(proxy, 'edgesocks_replies_total{command="connect",code="01"}'),
          1,
        );
        assert.equal(metric(proxy, REFUSED_LIMIT), 1);
      },
    );
  });

  it("maxPendingHandshakes closes the handshake over the cap, and frees places as they end", async () => {
    await withProxy(
      { limits: { maxPendingHandshakes: 2 } },
      async (proxy, sockets) => {
        const stalled = [
          sockets.add(await connectFrom(proxy.endpoint)),
          sockets.add(await connectFrom(proxy.endpoint, "127.0.0.2")),
        ];
        await eventually(
          () => proxy.server.connectionCount === 2,
          5_000,
          "two stalled handshakes",
        );
        // Both are younger than a second, and no address here has
        // finished a handshake yet: the newcomer is refused.
        await assertRefusedAtAccept(proxy, "maxPendingHandshakes");
        assert.equal(metric(proxy, REFUSED_PENDING), 1);
        for (const raw of stalled) raw.destroy();
        await eventually(
          () => proxy.server.connectionCount === 0,
          5_000,
          "the stalled handshakes to go",
        );
        await tunnel(proxy, sockets, echo);
        await tunnel(proxy, sockets, echo);
        // Relaying clients are past their handshake: a third one starts.
        await tunnel(proxy, sockets, echo);
        assert.equal(metric(proxy, REFUSED_PENDING), 1);
      },
    );
  });

  it("maxBindsPerUser answers 0x01 to the user's second BIND", async () => {
    await withProxy(
      { users, bindWithoutSession: true, limits: { maxBindsPerUser: 1 } },
      async (proxy, sockets) => {
        const first = await socksRequest(proxy.endpoint, anywhere, {
          credentials: alice,
          command: CMD.bind,
        });
        sockets.add(first.raw);
        assert.equal(first.reply.reply, 0x00, "the first BIND listens");
        await assertLimitReply(proxy, anywhere, {
          credentials: alice,
          command: CMD.bind,
          limit: "maxBindsPerUser",
          logged: "bind",
        });
        const other = await socksRequest(proxy.endpoint, anywhere, {
          credentials: bob,
          command: CMD.bind,
        });
        sockets.add(other.raw);
        assert.equal(other.reply.reply, 0x00, "bob's BIND listens");
        await tunnel(proxy, sockets, echo, { credentials: alice });
        assert.equal(
          metric(proxy, 'edgesocks_replies_total{command="bind",code="01"}'),
          1,
        );
        assert.equal(metric(proxy, REFUSED_LIMIT), 1);
      },
    );
  });

  it("maxUdpPerUser answers 0x01 to the user's second UDP ASSOCIATE", async () => {
    await withProxy(
      { users, limits: { maxUdpPerUser: 1 } },
      async (proxy, sockets) => {
        const first = await socksRequest(proxy.endpoint, anywhere, {
          credentials: alice,
          command: CMD.udp,
        });
        sockets.add(first.raw);
        assert.equal(first.reply.reply, 0x00, "the first association opens");
        await assertLimitReply(proxy, anywhere, {
          credentials: alice,
          command: CMD.udp,
          limit: "maxUdpPerUser",
          logged: "udp",
        });
        const other = await socksRequest(proxy.endpoint, anywhere, {
          credentials: bob,
          command: CMD.udp,
        });
        sockets.add(other.raw);
        assert.equal(other.reply.reply, 0x00, "bob's association opens");
        assert.equal(
          metric(proxy, 'edgesocks_replies_total{command="udp",code="01"}'),
          1,
        );
      },
    );
  });
});
