import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  connect,
  parseProxyUrl,
  SocksReplyError,
} from "../../src/client/mod.ts";
import { runtimeNetwork } from "../../src/net/runtime_network.ts";
import { upstreamNetwork } from "../../src/server/upstream.ts";
import { exchange, startBulkServer } from "../_helpers/e2e/bulk.ts";
import { refusedPort } from "../_helpers/e2e/free_port.ts";
import {
  type Microsocks,
  requireMicrosocks,
  startMicrosocks,
} from "../_helpers/e2e/microsocks.ts";
import { type Proxy, startProxy } from "../_helpers/e2e/proxy.ts";
import { type Endpoint, openTunnel } from "../_helpers/e2e/socks_raw.ts";
import { startEchoServer, type TcpServer } from "../_helpers/e2e/tcp_server.ts";
import { withTimeout } from "../_helpers/e2e/with_timeout.ts";

const MB = 1024 * 1024;
const alice = { username: "alice", password: "s3cret" };
const encoder = new TextEncoder();
const decoder = new TextDecoder();

function url(endpoint: Endpoint, login = ""): string {
  return `socks5h://${login}${endpoint.host}:${endpoint.port}`;
}

// A first hop whose every CONNECT goes through `upstream`, as the
// `--upstream` option builds it.
async function startChained(upstream: string): Promise<Proxy> {
  return await startProxy({
    network: upstreamNetwork(await runtimeNetwork(), parseProxyUrl(upstream)),
  });
}

// Sends `size` random bytes each way through `proxy` to a bulk server and
// checks both sha256 sums and counts.
async function assertBulk(proxy: Endpoint, size: number): Promise<void> {
  const bulk = await startBulkServer("127.0.0.1", size);
  try {
    // The raw client reads the reply byte-exact: the `socks` npm client
    // drops bytes that arrive in the reply's chunk, and the bulk server
    // sends as soon as it accepts.
    const { raw, reply } = await openTunnel(proxy, bulk);
    try {
      assert.equal(reply.reply, 0x00);
      const client = await withTimeout(
        exchange(raw, size),
        30_000,
        `${size} bytes each way`,
      );
      assert.equal(bulk.transfers.length, 1);
      const server = await withTimeout(
        bulk.transfers[0]!,
        10_000,
        "the destination's side",
      );
      assert.equal(client.sent, size);
      assert.equal(client.received, size);
      assert.equal(server.received, size);
      assert.equal(server.receivedSha256, client.sentSha256);
      assert.equal(client.receivedSha256, server.sentSha256);
    } finally {
      raw.destroy();
    }
  } finally {
    await bulk.close();
  }
}

// Sends a line through `proxy` to the echo server and reads it back,
// without a half-close (microsocks closes both ways on one FIN).
async function assertEcho(
  proxy: Endpoint,
  destination: string,
  text: string,
): Promise<void> {
  const tunnel = await connect(url(proxy), destination);
  try {
    const writer = tunnel.writable.getWriter();
    await withTimeout(writer.write(encoder.encode(text)), 5_000, "writing");
    const reader = tunnel.readable.getReader();
    let received = "";
    // Bounded: each read brings at least one byte, or ends the loop.
    while (received.length < text.length) {
      const { value, done } = await withTimeout(reader.read(), 5_000, "echo");
      if (done) break;
      received += decoder.decode(value, { stream: true });
    }
    assert.equal(received, text);
  } finally {
    tunnel.close();
  }
}

describe("edgesocks chained to edgesocks", () => {
  let echo: TcpServer;
  let second: Proxy;
  let first: Proxy;

  before(async () => {
    echo = await startEchoServer("127.0.0.1");
    second = await startProxy({ users: { alice: alice.password } });
    first = await startChained(url(second.endpoint, "alice:s3cret@"));
  });

  after(async () => {
    await first?.server.close({ gracePeriod: 0 });
    await second?.server.close({ gracePeriod: 0 });
    await echo?.close();
  });

  it("moves 10 MB each way through both with matching sha256", async () => {
    await assertBulk(first.endpoint, 10 * MB);
    const record = await second.logger.waitFor(
      (r) => r.msg === "access",
      5_000,
      "the second hop's access record",
    );
    assert.equal(second.logger.named("access").length, 1, "one tunnel");
    assert.equal(record.user, "alice");
    assert.equal(record.up, 10 * MB);
    assert.equal(record.down, 10 * MB);
  });

  it("passes a name to the second hop unresolved (socks5h)", async () => {
    await assertEcho(first.endpoint, `localhost:${echo.port}`, "by name");
    await second.logger.waitFor(
      (r) => r.msg === "access" && r.destination === `localhost:${echo.port}`,
      5_000,
      "the second hop's access record naming localhost",
    );
    const firstRecord = await first.logger.waitFor(
      (r) => r.msg === "access" && r.destination === `localhost:${echo.port}`,
      5_000,
      "the first hop's access record",
    );
    assert.equal(firstRecord.reply, 0);
    // The first hop's "remote" is the peer it connected to: the second hop.
    assert.equal(
      firstRecord.remote,
      `${second.endpoint.host}:${second.endpoint.port}`,
    );
  });

  it("gives the client the second hop's refusal: reply 5", async () => {
    const port = await refusedPort();
    await assert.rejects(
      connect(url(first.endpoint), `127.0.0.1:${port}`),
      (error: unknown) => {
        assert.ok(error instanceof SocksReplyError);
        assert.equal(error.reply, 5);
        return true;
      },
    );
  });

  it("answers reply 1 when the upstream itself cannot be reached", async () => {
    const dead = await refusedPort();
    const orphan = await startChained(`socks5h://127.0.0.1:${dead}`);
    try {
      await assert.rejects(
        connect(url(orphan.endpoint), `127.0.0.1:${echo.port}`),
        (error: unknown) => {
          assert.ok(error instanceof SocksReplyError);
          assert.equal(error.reply, 1);
          return true;
        },
      );
    } finally {
      await orphan.server.close({ gracePeriod: 0 });
    }
  });

  it("answers reply 1 when the upstream refuses the login", async () => {
    const wrong = await startChained(url(second.endpoint, "alice:wrong@"));
    try {
      await assert.rejects(
        connect(url(wrong.endpoint), `127.0.0.1:${echo.port}`),
        (error: unknown) =>
          error instanceof SocksReplyError && error.reply === 1,
      );
      const failed = await wrong.logger.waitFor(
        (r) => r.msg === "access" && r.reply === 1,
        5_000,
        "the access record of the refused login",
      );
      assert.match(
        String(failed.end),
        /through upstream proxy 127\.0\.0\.1:\d+: SOCKS5 proxy refused the login: status 0x01$/,
      );
    } finally {
      await wrong.server.close({ gracePeriod: 0 });
    }
  });
});

describe("edgesocks chained to microsocks", () => {
  let echo: TcpServer;
  let microsocks: Microsocks | undefined;
  let first: Proxy | undefined;

  before(async () => {
    echo = await startEchoServer("127.0.0.1");
  });

  after(async () => {
    await first?.server.close({ gracePeriod: 0 });
    await microsocks?.stop();
    await echo?.close();
  });

  async function chained(): Promise<Proxy> {
    microsocks ??= await startMicrosocks(alice);
    first ??= await startChained(url(microsocks.endpoint, "alice:s3cret@"));
    return first;
  }

  it("relays to an echo server through microsocks with a login", async (t) => {
    if (!requireMicrosocks(t)) return;
    const proxy = await chained();
    await assertEcho(
      proxy.endpoint,
      `127.0.0.1:${echo.port}`,
      "via microsocks",
    );
  });

  it("moves 4 MB each way through microsocks with matching sha256", async (t) => {
    if (!requireMicrosocks(t)) return;
    const proxy = await chained();
    await assertBulk(proxy.endpoint, 4 * MB);
  });

  it("gives the client microsocks' refusal: reply 5", async (t) => {
    if (!requireMicrosocks(t)) return;
    const proxy = await chained();
    const port = await refusedPort();
    await assert.rejects(
      connect(url(proxy.endpoint), `127.0.0.1:${port}`),
      (error: unknown) => error instanceof SocksReplyError && error.reply === 5,
    );
  });
});
