import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { parseRule, type ServeOptions } from "../../mod.ts";
import { parseExposition, sample } from "../_helpers/e2e/exposition.ts";
import {
  type GuardedNetwork,
  guardedNetwork,
} from "../_helpers/e2e/guarded_network.ts";
import { accessRecord, type Proxy, startProxy } from "../_helpers/e2e/proxy.ts";
import { hex } from "../_helpers/e2e/raw_socket.ts";
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

const alice: Credentials = { username: "alice", password: "s3cret" };
const bob: Credentials = { username: "bob", password: "hunter2" };
const users = { alice: alice.password, bob: bob.password };
const encoder = new TextEncoder();

// A request the rules deny: exactly `05 02 00 01 00*6`, then the close,
// and an access record naming the rule. Returns that record.
async function assertDenied(
  proxy: Proxy,
  destination: Endpoint,
  expected: { rule: string; logged?: string } & SessionOptions,
) {
  const { raw, reply } = await socksRequest(
    proxy.endpoint,
    destination,
    expected,
  );
  try {
    assert.equal(hex(reply.bytes), hex(failureReply(0x02)));
    assert.equal((await raw.readToEnd()).length, 0, "closed after the reply");
  } finally {
    raw.destroy();
  }
  const record = await accessRecord(
    proxy,
    `${expected.from ?? "127.0.0.1"}:${raw.localPort}`,
  );
  assert.equal(record.reply, 0x02);
  assert.equal(record.rule, expected.rule);
  assert.equal(record.command, expected.logged ?? "connect");
  assert.equal(record.user, expected.credentials?.username ?? null);
  return record;
}

// A CONNECT the rules allow: reply 0x00 and bytes echoed both ways.
async function assertServed(
  proxy: Proxy,
  destination: Endpoint,
  options: SessionOptions = {},
) {
  const { raw, reply } = await socksRequest(
    proxy.endpoint,
    destination,
    options,
  );
  try {
    assert.equal(reply.reply, 0x00, `CONNECT ${destination.host} is served`);
    const payload = encoder.encode(`via ${destination.host}`);
    await raw.write(payload);
    assert.deepEqual(await raw.read(payload.length), payload);
  } finally {
    raw.destroy();
  }
}

async function withProxy(
  options: ServeOptions,
  body: (proxy: Proxy) => Promise<void>,
): Promise<void> {
  const proxy = await startProxy(options);
  try {
    await body(proxy);
  } finally {
    await proxy.server.close({ gracePeriod: 0 });
  }
}

function refusedCount(proxy: Proxy, reason: string): number {
  const samples = parseExposition(proxy.server.metrics.render());
  return sample(
    samples,
    `edgesocks_connections_refused_total{reason="${reason}"}`,
  );
}

describe("access rules through the server", () => {
  let echo: TcpServer;
  let other: TcpServer;
  let echoAt2: TcpServer;
  let guarded: GuardedNetwork;

  before(async () => {
    echo = await startEchoServer("127.0.0.1");
    other = await startEchoServer("127.0.0.1");
    echoAt2 = await startEchoServer("127.0.0.2");
    guarded = await guardedNetwork({
      "svc.allowed.test": ["127.0.0.1"],
      "Svc.ALLOWED.Test": ["127.0.0.1"],
      "allowed.test": ["127.0.0.1"],
      "notallowed.test": ["127.0.0.1"],
      "second.test": ["127.0.0.2"],
    });
  });

  after(async () => {
    await echo?.close();
    await other?.close();
    await echoAt2?.close();
  });

  it("deny port=N answers 05 02 00 01 00*6 and logs the rule", async () => {
    const rule = `deny port=${echo.port}`;
    await withProxy(
      { rules: [parseRule("deny", `port=${echo.port}`)] },
      async (proxy) => {
        const peers = echo.peers.length;
        const record = await assertDenied(proxy, echo, { rule });
        assert.equal(
          record.end,
          `Cannot connect to 127.0.0.1:${echo.port}: denied by ${rule}`,
        );
        assert.equal(echo.peers.length, peers, "the destination saw nothing");
        await assertServed(proxy, other);
      },
    );
  });

  it("deny dest=CIDR refuses that range, by address and by a name in it", async () => {
    const options = {
      rules: [parseRule("deny", "dest=127.0.0.2/32")],
      network: guarded.network,
    };
    await withProxy(options, async (proxy) => {
      const rule = "deny dest=127.0.0.2/32";
      await assertDenied(proxy, echoAt2, { rule });
      await assertDenied(proxy, { host: "second.test", port: echoAt2.port }, {
        rule,
      });
      assert.equal(echoAt2.peers.length, 0, "127.0.0.2 saw nothing");
      await assertServed(proxy, echo);
    });
  });

  it("first match decides: allow dest=.suffix before a deny-all serves the suffix only", async () => {
    const rules = [
      parseRule("allow", "dest=.allowed.test"),
      parseRule("deny", ""),
    ];
    await withProxy({ rules, network: guarded.network }, async (proxy) => {
      const port = echo.port;
      await assertServed(proxy, { host: "svc.allowed.test", port });
      await assertServed(proxy, { host: "Svc.ALLOWED.Test", port });
      await assertServed(proxy, { host: "allowed.test", port });
      await assertDenied(proxy, { host: "notallowed.test", port }, {
        rule: "deny",
      });
      await assertDenied(proxy, echo, { rule: "deny" });
    });
  });

  it("first match decides: a deny before allow dest=.suffix denies the suffix too", async () => {
    const rules = [
      parseRule("deny", "cmd=connect"),
      parseRule("allow", "dest=.allowed.test"),
    ];
    await withProxy({ rules, network: guarded.network }, async (proxy) => {
      const peers = echo.peers.length;
      await assertDenied(proxy, { host: "svc.allowed.test", port: echo.port }, {
        rule: "deny cmd=connect",
      });
      assert.equal(echo.peers.length, peers);
    });
    // A rule with no matcher at all matches every client: decided at accept.
    const denyAll = [
      parseRule("deny", ""),
      parseRule("allow", "dest=.allowed.test"),
    ];
    await withProxy({ rules: denyAll }, async (proxy) => {
      const raw = await connectFrom(proxy.endpoint);
      try {
        await assertClosedUnanswered(raw);
      } finally {
        raw.destroy();
      }
      const refused = await proxy.logger.waitFor(
        (r) => r.msg === "refused",
        5_000,
        "the refused record",
      );
      assert.deepEqual([refused.reason, refused.rule], ["rule", "deny"]);
    });
  });

  it("user= matches the logged-in user", async () => {
    await withProxy(
      { users, rules: [parseRule("deny", "user=bob")] },
      async (proxy) => {
        await assertServed(proxy, echo, { credentials: alice });
        await assertDenied(proxy, echo, {
          rule: "deny user=bob",
          credentials: bob,
        });
      },
    );
  });

  it("cmd= matches the command: deny bind, allow connect", async () => {
    const rules = [
      parseRule("deny", "cmd=bind"),
      parseRule("allow", "cmd=connect"),
    ];
    await withProxy({ rules, bindWithoutSession: true }, async (proxy) => {
      await assertDenied(proxy, { host: "0.0.0.0", port: 0 }, {
        rule: "deny cmd=bind",
        command: CMD.bind,
        logged: "bind",
      });
      await assertServed(proxy, echo);
    });
  });

  it("client= deny closes a connection at accept, before answering a byte", async () => {
    const rule = "deny client=127.0.0.2";
    await withProxy(
      { rules: [parseRule("deny", "client=127.0.0.2")] },
      async (proxy) => {
        const raw = await connectFrom(proxy.endpoint, "127.0.0.2");
        try {
          await assertClosedUnanswered(raw);
        } finally {
          raw.destroy();
        }
        const refused = await proxy.logger.waitFor(
          (r) => r.msg === "refused",
          5_000,
          "the refused record",
        );
        assert.equal(refused.client, `127.0.0.2:${raw.localPort}`);
        assert.equal(refused.reason, "rule");
        assert.equal(refused.rule, rule);
        await assertServed(proxy, echo);
        assert.equal(refusedCount(proxy, "rule"), 1);
        const samples = parseExposition(proxy.server.metrics.render());
        assert.equal(
          sample(samples, "edgesocks_connections_accepted_total"),
          1,
          "only the served client was accepted",
        );
      },
    );
  });

  it("client= allow before a deny-all serves that client and refuses the rest", async () => {
    const rules = [
      parseRule("allow", "client=127.0.0.2/32"),
      parseRule("deny", ""),
    ];
    await withProxy({ rules }, async (proxy) => {
      await assertServed(proxy, echo, { from: "127.0.0.2" });
      const raw = await connectFrom(proxy.endpoint, "127.0.0.1");
      try {
        await assertClosedUnanswered(raw);
      } finally {
        raw.destroy();
      }
      const refused = await proxy.logger.waitFor(
        (r) => r.msg === "refused",
        5_000,
        "the refused record",
      );
      assert.equal(refused.client, `127.0.0.1:${raw.localPort}`);
      assert.deepEqual([refused.reason, refused.rule], ["rule", "deny"]);
      assert.equal(refusedCount(proxy, "rule"), 1);
    });
  });
});

describe("safe default denials", () => {
  let echo: TcpServer;
  let guarded: GuardedNetwork;
  let exposed: Proxy;

  before(async () => {
    echo = await startEchoServer("127.0.0.1");
    guarded = await guardedNetwork({
      "metadata.test": ["169.254.169.254"],
      "rebound.test": ["169.254.169.254", "127.0.0.1"],
    });
    // Reachable beyond loopback: loopback destinations are denied too.
    exposed = await startProxy({
      listen: "0.0.0.0:0",
      users,
      network: guarded.network,
    });
    exposed.endpoint.host = "127.0.0.1";
  });

  after(async () => {
    await exposed?.server.close({ gracePeriod: 0 });
    await echo?.close();
  });

  it("a non-loopback listener denies loopback by name (DNS rebinding) and by address", async () => {
    const peers = echo.peers.length;
    const mark = guarded.dialled.length;
    const rule = "default: loopback destination";
    await assertDenied(exposed, { host: "localhost", port: echo.port }, {
      rule,
      credentials: alice,
    });
    await assertDenied(exposed, echo, { rule, credentials: alice });
    await assertDenied(exposed, { host: "::1", port: echo.port }, {
      rule,
      credentials: alice,
    });
    assert.equal(echo.peers.length, peers, "the echo server saw nothing");
    assert.deepEqual(guarded.dialled.slice(mark), [], "nothing was dialled");
  });

  it("allow dest=127.0.0.1 lifts the loopback denial", async () => {
    await withProxy({
      listen: "0.0.0.0:0",
      users,
      rules: [parseRule("allow", "dest=127.0.0.1")],
    }, async (proxy) => {
      proxy.endpoint.host = "127.0.0.1";
      await assertServed(proxy, echo, { credentials: alice });
      await assertServed(proxy, { host: "localhost", port: echo.port }, {
        credentials: alice,
      });
      // Only what the rule names: ::1 is still denied.
      await assertDenied(proxy, { host: "::1", port: echo.port }, {
        rule: "default: loopback destination",
        credentials: alice,
      });
    });
  });

  it("metadata, unspecified, multicast and broadcast are denied before any dial", async () => {
    const cases: [string, string][] = [
      ["169.254.169.254", "link-local"],
      ["metadata.test", "link-local"],
      ["fe80::1", "link-local"],
      ["0.0.0.0", "unspecified"],
      ["::", "unspecified"],
      ["224.0.0.1", "multicast"],
      ["255.255.255.255", "broadcast"],
    ];
    const mark = guarded.dialled.length;
    for (const [host, kind] of cases) {
      await assertDenied(exposed, { host, port: 80 }, {
        rule: `default: ${kind} destination`,
        credentials: alice,
      });
    }
    assert.deepEqual(guarded.violations, [], "no packet left the machine");
    assert.deepEqual(guarded.dialled.slice(mark), []);
  });

  it("a name with one denied address dials only the allowed one", async () => {
    const mark = guarded.dialled.length;
    await withProxy({ network: guarded.network }, async (proxy) => {
      await assertServed(proxy, { host: "rebound.test", port: echo.port });
    });
    assert.deepEqual(guarded.violations, []);
    assert.deepEqual(guarded.dialled.slice(mark), [`127.0.0.1:${echo.port}`]);
  });

  it("allow user= does not lift the defaults; a loopback listener still denies them", async () => {
    const mark = guarded.dialled.length;
    await withProxy({
      users,
      rules: [parseRule("allow", "user=alice")],
      network: guarded.network,
    }, async (proxy) => {
      await assertDenied(proxy, { host: "169.254.169.254", port: 80 }, {
        rule: "default: link-local destination",
        credentials: alice,
      });
      await assertDenied(proxy, { host: "0.0.0.0", port: echo.port }, {
        rule: "default: unspecified destination",
        credentials: alice,
      });
      await assertServed(proxy, echo, { credentials: alice });
    });
    assert.deepEqual(guarded.violations, []);
    assert.deepEqual(guarded.dialled.slice(mark), [`127.0.0.1:${echo.port}`]);
  });
});
