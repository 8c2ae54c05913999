import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Metrics } from "../../src/observe/metrics.ts";
import {
  type MetricsServer,
  serveMetrics,
} from "../../src/observe/metrics_server.ts";
import { runtimeNetwork } from "../../src/net/runtime_network.ts";
import { parseExposition } from "../_helpers/e2e/exposition.ts";
import { RawSocket } from "../_helpers/e2e/raw_socket.ts";
import { withTimeout } from "../_helpers/e2e/with_timeout.ts";

const decoder = new TextDecoder();

function url(server: MetricsServer, path: string): string {
  return `http://127.0.0.1:${server.address.port}${path}`;
}

async function scrape(
  server: MetricsServer,
  init: { path?: string; method?: string; body?: string } = {},
): Promise<{ status: number; headers: Headers; text: string }> {
  const { path = "/metrics", ...rest } = init;
  return await withTimeout(
    (async () => {
      const response = await fetch(url(server, path), {
        ...rest,
        signal: AbortSignal.timeout(5_000),
      });
      const text = await response.text();
      return { status: response.status, headers: response.headers, text };
    })(),
    6_000,
    `${init.method ?? "GET"} ${path}`,
  );
}

describe("metrics endpoint over real sockets", () => {
  const metrics = new Metrics();
  let server: MetricsServer;

  before(async () => {
    server = await serveMetrics(await runtimeNetwork(), {
      address: { host: "127.0.0.1", port: 0 },
      metrics,
    });
  });

  after(async () => {
    await withTimeout(server?.close() ?? Promise.resolve(), 5_000, "close()");
  });

  it("fetch() scrapes the exposition metrics renders", async () => {
    metrics.connectionAccepted();
    metrics.connectionAccepted();
    metrics.connectionClosed();
    metrics.reply("connect", 0x00);
    metrics.reply("connect", 0x05);
    metrics.reply("connect", 0x05);
    metrics.bytes({ up: 79, down: 987 });
    metrics.tunnelOpened("connect");
    metrics.dnsLookup(0.02, true);
    metrics.dnsLookup(3, false);
    const expected = metrics.render();
    const { status, headers, text } = await scrape(server);
    assert.equal(status, 200);
    assert.equal(
      headers.get("content-type"),
      "text/plain; version=0.0.4; charset=utf-8",
    );
    assert.equal(
      headers.get("content-length"),
      String(new TextEncoder().encode(expected).length),
    );
    assert.equal(text, expected);
    const values = parseExposition(text);
    assert.equal(values.size, 51);
    const expectations: Array<[string, number]> = [
      ["edgesocks_connections_accepted_total", 2],
      ["edgesocks_connections_active", 1],
      ['edgesocks_replies_total{command="connect",code="00"}', 1],
      ['edgesocks_replies_total{command="connect",code="05"}', 2],
      ['edgesocks_bytes_total{direction="up"}', 79],
      ['edgesocks_bytes_total{direction="down"}', 987],
      ['edgesocks_tunnels_active{command="connect"}', 1],
      ['edgesocks_tunnels_active{command="udp"}', 0],
      ['edgesocks_dns_lookup_duration_seconds_bucket{le="0.01"}', 0],
      ['edgesocks_dns_lookup_duration_seconds_bucket{le="0.025"}', 1],
      ['edgesocks_dns_lookup_duration_seconds_bucket{le="2.5"}', 1],
      ['edgesocks_dns_lookup_duration_seconds_bucket{le="5"}', 2],
      ['edgesocks_dns_lookup_duration_seconds_bucket{le="+Inf"}', 2],
      ["edgesocks_dns_lookup_duration_seconds_sum", 3.02],
      ["edgesocks_dns_lookup_duration_seconds_count", 2],
      ["edgesocks_dns_lookup_failures_total", 1],
    ];
    for (const [key, value] of expectations) {
      assert.equal(values.get(key), value, key);
    }
  });

  it("each scrape sees the events before it", async () => {
    const earlier = parseExposition((await scrape(server)).text);
    metrics.authFailed();
    metrics.handshakeFailed("auth_failed");
    metrics.datagrams({ dropped: 3 });
    const later = parseExposition((await scrape(server)).text);
    const changed = [...later].filter(([key, value]) =>
      earlier.get(key) !== value
    );
    assert.deepEqual(changed, [
      ['edgesocks_handshakes_failed_total{reason="auth_failed"}', 1],
      ["edgesocks_auth_failures_total", 1],
      ['edgesocks_udp_datagrams_total{direction="dropped"}', 3],
    ]);
  });

  it("HEAD gives GET's headers and no body", async () => {
    const { status, headers, text } = await scrape(server, { method: "HEAD" });
    assert.equal(status, 200);
    assert.equal(
      headers.get("content-length"),
      String(new TextEncoder().encode(metrics.render()).length),
    );
    assert.equal(text, "");
  });

  it("other paths get 404 and other methods 405 with Allow", async () => {
    const missing = await scrape(server, { path: "/" });
    assert.deepEqual([missing.status, missing.text], [404, "Not Found\n"]);
    const posted = await scrape(server, { method: "POST", body: "x=1" });
    assert.deepEqual(
      [posted.status, posted.headers.get("allow"), posted.text],
      [405, "GET, HEAD", "Method Not Allowed\n"],
    );
  });

  it("many scrapes at once all succeed", async () => {
    const results = await Promise.all(
      Array.from({ length: 16 }, () => scrape(server)),
    );
    assert.deepEqual(
      results.map((result) => result.status),
      new Array(16).fill(200),
    );
    assert.equal(new Set(results.map((result) => result.text)).size, 1);
  });

  it("answers garbage with 400 and closes cleanly", async () => {
    const raw = await RawSocket.connect("127.0.0.1", server.address.port);
    try {
      await raw.write(new Uint8Array([0x16, 3, 1, 0, 0xff, 13, 10, 13, 10]));
      assert.equal(
        decoder.decode(await raw.readToEnd()),
        "HTTP/1.1 400 Bad Request\r\n" +
          "Content-Type: text/plain; charset=utf-8\r\n" +
          "Content-Length: 12\r\nConnection: close\r\n\r\nBad Request\n",
      );
    } finally {
      raw.destroy();
    }
  });

  it("answers a head over 8 KiB with 431, without a reset", async () => {
    const raw = await RawSocket.connect("127.0.0.1", server.address.port);
    try {
      // More than the cap in one write: the server reads past what it
      // keeps, so the client's unread bytes cannot turn its close into a
      // reset that would destroy the response.
      const head = `GET /metrics HTTP/1.1\r\nX-Pad: ${
        "a".repeat(20_000)
      }\r\n\r\n`;
      await raw.write(head);
      const response = decoder.decode(await raw.readToEnd());
      assert.equal(
        response.split("\r\n", 1)[0],
        "HTTP/1.1 431 Request Header Fields Too Large",
      );
      assert.ok(response.endsWith("\r\n\r\nRequest Header Fields Too Large\n"));
    } finally {
      raw.destroy();
    }
  });
});

describe("metrics endpoint close()", () => {
  it("closes open connections and stops listening", async () => {
    const server = await serveMetrics(await runtimeNetwork(), {
      address: { host: "127.0.0.1", port: 0 },
      metrics: new Metrics(),
    });
    const { port } = server.address;
    const raw = await RawSocket.connect("127.0.0.1", port);
    try {
      await raw.write("GET /metrics HTTP/1.1\r\n");
      // The server has the connection once it answers another one.
      const response = await fetch(`http://127.0.0.1:${port}/metrics`, {
        signal: AbortSignal.timeout(5_000),
      });
      await response.text();
      const started = Date.now();
      await withTimeout(server.close(), 2_000, "close()");
      await withTimeout(server.close(), 100, "a second close()");
      // Long before the 5 s request timeout.
      assert.ok(Date.now() - started < 1_000);
      const ending = await raw.ended(2_000);
      assert.equal(raw.received, 0);
      assert.ok(ending !== null);
      await assert.rejects(RawSocket.connect("127.0.0.1", port, 2_000));
    } finally {
      raw.destroy();
      await withTimeout(server.close(), 2_000, "close()");
    }
  });
});
