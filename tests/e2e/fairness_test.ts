import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { ServeOptions } from "../../mod.ts";
import { parseExposition } from "../_helpers/e2e/exposition.ts";
import {
  type HttpServer,
  startHttpServer,
} from "../_helpers/e2e/http_server.ts";
import { type Proxy, startProxy } from "../_helpers/e2e/proxy.ts";
import type { RawSocket } from "../_helpers/e2e/raw_socket.ts";
import type { Credentials } from "../_helpers/e2e/socks_raw.ts";
import {
  assertClosedUnanswered,
  connectFrom,
  socksRequest,
} from "../_helpers/e2e/socks_session.ts";
import { eventually } from "../_helpers/e2e/with_timeout.ts";

const alice: Credentials = { username: "alice", password: "s3cret" };
const PAGE = "served despite the flood\n";
const decoder = new TextDecoder();

let web: HttpServer;
before(async () => {
  web = await startHttpServer("127.0.0.1", { "/page": PAGE });
});
after(() => web.close());

function refused(proxy: Proxy, reason: string): number | undefined {
  return parseExposition(proxy.server.metrics.render()).get(
    `edgesocks_connections_refused_total{reason="${reason}"}`,
  );
}

async function withProxy(
  options: ServeOptions,
  body: (proxy: Proxy, open: RawSocket[]) => Promise<void>,
): Promise<void> {
  const proxy = await startProxy({
    users: { alice: alice.password },
    ...options,
  });
  const open: RawSocket[] = [];
  try {
    await body(proxy, open);
  } finally {
    for (const raw of open) raw.destroy();
    await proxy.server.close({ gracePeriod: 0 });
  }
}

// `count` clients from `from` that send one byte of a greeting and stall.
async function stall(
  proxy: Proxy,
  open: RawSocket[],
  from: string,
  count: number,
): Promise<RawSocket[]> {
  const stalled: RawSocket[] = [];
  for (let i = 0; i < count; i++) {
    const raw = await connectFrom(proxy.endpoint, from);
    open.push(raw);
    stalled.push(raw);
    await raw.write(new Uint8Array([0x05]));
  }
  return stalled;
}

// Logs in from `from` and fetches the page through the proxy.
async function fetchThrough(proxy: Proxy, from: string): Promise<string> {
  const started = Date.now();
  const { raw, reply } = await socksRequest(proxy.endpoint, web, {
    from,
    credentials: alice,
  });
  try {
    assert.equal(reply.reply, 0x00, "the tunnel opens");
    await raw.write("GET /page HTTP/1.0\r\nHost: web\r\n\r\n");
    const response = decoder.decode(await raw.readToEnd());
    assert.ok(Date.now() - started < 2_000, "served at once");
    return response;
  } finally {
    raw.destroy();
  }
}

describe("fair handshake slots over real sockets", () => {
  it("a flood from one address past its cap leaves another address served", async () => {
    await withProxy(
      { limits: { maxPendingHandshakesPerClient: 8 } },
      async (proxy, open) => {
        const flood = await stall(proxy, open, "127.0.0.2", 20);
        // The 12 over the cap are closed without a byte.
        for (const raw of flood.slice(8)) await assertClosedUnanswered(raw);
        await eventually(
          () => proxy.server.connectionCount === 8,
          5_000,
          "eight stalled handshakes held",
        );
        assert.equal(refused(proxy, "pending_per_client"), 12);
        const response = await fetchThrough(proxy, "127.0.0.1");
        assert.match(response, /^HTTP\/1\.[01] 200 /);
        assert.ok(response.endsWith(PAGE));
        // The flood's first eight are still held, unanswered.
        for (const raw of flood.slice(0, 8)) {
          assert.equal(raw.ending, null);
          assert.equal(raw.received, 0);
        }
        assert.equal(refused(proxy, "pending_evicted"), 0);
      },
    );
  });

  it("with every slot taken, a newcomer from a quiet address takes the busiest address's oldest", async () => {
    await withProxy(
      {
        limits: { maxPendingHandshakes: 12, maxPendingHandshakesPerClient: 5 },
      },
      async (proxy, open) => {
        const byAddress = new Map<string, RawSocket[]>();
        for (const from of ["127.0.0.2", "127.0.0.3", "127.0.0.4"]) {
          byAddress.set(from, await stall(proxy, open, from, 4));
        }
        await eventually(
          () => proxy.server.connectionCount === 12,
          5_000,
          "twelve stalled handshakes: every slot taken",
        );
        const response = await fetchThrough(proxy, "127.0.0.1");
        assert.ok(response.endsWith(PAGE));
        // The first address to reach the most slots lost its oldest.
        const [oldest, ...rest] = byAddress.get("127.0.0.2")!;
        assert.deepEqual(await oldest!.ended(2_000), { error: null });
        assert.equal(oldest!.received, 0);
        for (const raw of [...rest, ...byAddress.get("127.0.0.3")!]) {
          assert.equal(raw.ending, null);
        }
        assert.equal(refused(proxy, "pending_evicted"), 1);
        const record = await proxy.logger.waitFor(
          (r) => r.msg === "refused" && r.reason === "pending_evicted",
          2_000,
          "the eviction logged",
        );
        assert.equal(record.client, `127.0.0.2:${oldest!.localPort}`);
        // Full again; 127.0.0.3 holds 4, as many as any: its newcomer
        // would only churn its own, so it is refused instead.
        await stall(proxy, open, "127.0.0.5", 1);
        await eventually(
          () => proxy.server.connectionCount === 12,
          5_000,
          "every slot taken again",
        );
        const busy = await connectFrom(proxy.endpoint, "127.0.0.3");
        open.push(busy);
        await assertClosedUnanswered(busy);
        assert.equal(refused(proxy, "pending_full"), 1);
        assert.equal(refused(proxy, "pending_evicted"), 1);
      },
    );
  });
});
