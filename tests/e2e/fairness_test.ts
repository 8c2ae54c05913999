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
import { delay, eventually } from "../_helpers/e2e/with_timeout.ts";

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

  it(
    "with every slot taken, a known address takes the oldest stall's slot at once, an unknown one after a second",
    {
      timeout: 10_000,
    },
    async () => {
      await withProxy(
        {
          limits: {
            maxPendingHandshakes: 12,
            maxPendingHandshakesPerClient: 5,
          },
        },
        async (proxy, open) => {
          // 127.0.0.1 has been served before the flood.
          assert.ok((await fetchThrough(proxy, "127.0.0.1")).endsWith(PAGE));
          const byAddress = new Map<string, RawSocket[]>();
          for (const from of ["127.0.0.2", "127.0.0.3", "127.0.0.4"]) {
            byAddress.set(from, await stall(proxy, open, from, 4));
          }
          await eventually(
            () => proxy.server.connectionCount === 12,
            5_000,
            "twelve stalled handshakes: every slot taken",
          );
          // Unknown, with every stall younger than a second: refused.
          const early = await connectFrom(proxy.endpoint, "127.0.0.6");
          open.push(early);
          await assertClosedUnanswered(early);
          assert.equal(refused(proxy, "pending_full"), 1);
          // Known: served at once, in the oldest stall's slot.
          assert.ok((await fetchThrough(proxy, "127.0.0.1")).endsWith(PAGE));
          const [first, second, ...rest] = byAddress.get("127.0.0.2")!;
          assert.deepEqual(await first!.ended(2_000), { error: null });
          assert.equal(first!.received, 0);
          for (
            const raw of [second!, ...rest, ...byAddress.get("127.0.0.3")!]
          ) {
            assert.equal(raw.ending, null);
          }
          assert.equal(refused(proxy, "pending_evicted"), 1);
          const record = await proxy.logger.waitFor(
            (r) => r.msg === "refused" && r.reason === "pending_evicted",
            2_000,
            "the eviction logged",
          );
          assert.equal(record.client, `127.0.0.2:${first!.localPort}`);
          // Full again (a stall from 127.0.0.5). Once the stalls are over a
          // second old, the unknown address gets the oldest one's slot too.
          await stall(proxy, open, "127.0.0.5", 1);
          await delay(1_100);
          assert.ok((await fetchThrough(proxy, "127.0.0.6")).endsWith(PAGE));
          assert.deepEqual(await second!.ended(2_000), { error: null });
          assert.equal(refused(proxy, "pending_evicted"), 2);
          assert.equal(refused(proxy, "pending_full"), 1);
        },
      );
    },
  );
});
