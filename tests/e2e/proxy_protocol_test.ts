import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { encodeProxyHeader, parseRule } from "../../mod.ts";
import { parseExposition, sample } from "../_helpers/e2e/exposition.ts";
import { accessRecord, type Proxy, startProxy } from "../_helpers/e2e/proxy.ts";
import { hex, type RawSocket } from "../_helpers/e2e/raw_socket.ts";
import { greeting, readReply, request } from "../_helpers/e2e/socks_raw.ts";
import { connectFrom } from "../_helpers/e2e/socks_session.ts";
import { startEchoServer, type TcpServer } from "../_helpers/e2e/tcp_server.ts";

const encoder = new TextEncoder();

// What a balancer at 127.0.0.1 says about a client it relays: a made-up
// documentation address, so the log cannot have it from the socket.
function header(version: 1 | 2, port: number, tlvs = false): Uint8Array {
  return encodeProxyHeader({
    version,
    source: { host: "192.0.2.7", port },
    destination: { host: "127.0.0.1", port: 1080 },
    ...(tlvs
      ? {
        tlvs: [
          { type: 0x05, value: encoder.encode("request-42") },
          { type: 0x02, value: encoder.encode("socks.example") },
          { type: 0xe3, value: new Uint8Array(40) },
        ],
      }
      : {}),
  });
}

function failedHandshakes(proxy: Proxy, reason: string): number {
  return sample(
    parseExposition(proxy.server.metrics.render()),
    `edgesocks_handshakes_failed_total{reason="${reason}"}`,
  );
}

// The "handshake failed" record of one client, waited for up to 3 s.
function failedHandshakeOf(proxy: Proxy, client: string) {
  return proxy.logger.waitFor(
    (r) => r.msg === "handshake failed" && r.client === client,
    3_000,
    "the failed handshake",
  );
}

// Sends `parts` one write at a time (a pause between, so each tends to
// arrive as a read of its own), then CONNECTs to `echo` and relays a line.
async function connectThrough(
  raw: RawSocket,
  parts: readonly Uint8Array[],
  echo: TcpServer,
): Promise<void> {
  for (const part of parts) {
    if (part.length === 0) continue;
    await raw.write(part);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  await raw.write(request({ host: echo.host, port: echo.port }));
  assert.equal(hex(await raw.read(2)), "05 00", "method selection");
  const reply = await readReply(raw);
  assert.equal(reply.reply, 0x00);
  await raw.write("ping");
  assert.deepEqual(await raw.read(4), encoder.encode("ping"));
}

async function assertClosedSilently(raw: RawSocket, ms = 3_000) {
  const ending = await raw.ended(ms);
  assert.equal(raw.received, 0, "not one byte answered");
  if (ending.error !== null) {
    const code = (ending.error as { code?: string }).code;
    assert.ok(code === "ECONNRESET" || code === "EPIPE", String(code));
  }
}

describe("the PROXY protocol from a trusted balancer", () => {
  let echo: TcpServer;
  let proxy: Proxy;

  before(async () => {
    echo = await startEchoServer("127.0.0.1");
    proxy = await startProxy({
      listen: "127.0.0.1:0",
      proxyProtocol: ["127.0.0.1/32"],
      // Long enough that a close within a few seconds is not the timer.
      handshakeTimeout: 30_000,
      rules: [
        parseRule("deny", "client=192.0.2.66/32"),
        // The default rules keep loopback destinations from clients that
        // are not on loopback; the echo server is one.
        parseRule("allow", "dest=127.0.0.1/32"),
      ],
    });
  });

  after(async () => {
    await proxy?.server.close({ gracePeriod: 0 });
    await echo?.close();
  });

  for (const version of [1, 2] as const) {
    it(`serves the client a v${version} header names, split at every byte`, {
      timeout: 60_000,
    }, async () => {
      const length = header(version, 0).length;
      for (let k = 0; k <= length; k++) {
        const port = 20_000 + version * 1_000 + k;
        const bytes = header(version, port);
        const raw = await connectFrom(proxy.endpoint);
        try {
          // The greeting rides with the header's tail, as balancers send.
          await connectThrough(raw, [
            bytes.subarray(0, k),
            new Uint8Array([...bytes.subarray(k), ...greeting([0x00])]),
          ], echo);
        } finally {
          raw.destroy();
        }
        const record = await accessRecord(proxy, `192.0.2.7:${port}`);
        assert.equal(record.via, `127.0.0.1:${raw.localPort}`, `split ${k}`);
        assert.equal(record.reply, 0x00);
      }
    });
  }

  it("serves a client named by a v2 header with TLVs", async () => {
    const raw = await connectFrom(proxy.endpoint);
    try {
      await connectThrough(raw, [header(2, 30_001, true), greeting([0])], echo);
    } finally {
      raw.destroy();
    }
    const record = await accessRecord(proxy, "192.0.2.7:30001");
    assert.equal(record.via, `127.0.0.1:${raw.localPort}`);
  });

  it("checks client rules against the address the header names", async () => {
    const raw = await connectFrom(proxy.endpoint);
    try {
      await raw.write(
        encodeProxyHeader({
          version: 2,
          source: { host: "192.0.2.66", port: 30_002 },
          destination: { host: "127.0.0.1", port: 1080 },
        }),
      );
      await raw.write(greeting([0x00])).catch(() => {});
      await assertClosedSilently(raw);
    } finally {
      raw.destroy();
    }
    const refused = await proxy.logger.waitFor(
      (r) => r.msg === "refused" && r.client === "192.0.2.66:30002",
      3_000,
      "the refusal",
    );
    assert.equal(refused.reason, "rule");
    assert.equal(refused.via, `127.0.0.1:${raw.localPort}`);
  });

  it("closes a trusted connection that sends garbage instead of a header", async () => {
    const before = failedHandshakes(proxy, "proxy_header");
    const raw = await connectFrom(proxy.endpoint);
    try {
      await raw.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
      await assertClosedSilently(raw);
    } finally {
      raw.destroy();
    }
    const failed = await failedHandshakeOf(proxy, `127.0.0.1:${raw.localPort}`);
    assert.equal(failed.reason, "proxy_header");
    assert.equal(
      failed.error,
      "Cannot decode PROXY header: byte 0x47 at offset 0 is not the PROXY signature",
    );
    assert.equal(failedHandshakes(proxy, "proxy_header"), before + 1);
  });

  it("closes an oversized header without reading on", async () => {
    // A v1 line with no CRLF in its first 107 bytes.
    const raw = await connectFrom(proxy.endpoint);
    try {
      await raw.write(`PROXY UNKNOWN ${"a".repeat(200)}`);
      await assertClosedSilently(raw);
    } finally {
      raw.destroy();
    }
    await proxy.logger.waitFor(
      (r) =>
        r.client === `127.0.0.1:${raw.localPort}` &&
        r.error ===
          "Cannot decode PROXY header: no CRLF in the first 107 bytes of a version 1 line",
      3_000,
      "the refused v1 line",
    );
    // A v2 header announcing 65,535 more bytes is refused on its length:
    // the close comes with those bytes never sent.
    const v2 = await connectFrom(proxy.endpoint);
    try {
      const fixed = header(2, 1).subarray(0, 16);
      fixed[14] = 0xff;
      fixed[15] = 0xff;
      await v2.write(fixed);
      await assertClosedSilently(v2);
    } finally {
      v2.destroy();
    }
    await proxy.logger.waitFor(
      (r) =>
        r.client === `127.0.0.1:${v2.localPort}` &&
        r.error ===
          "Cannot decode PROXY header: a version 2 header of 65551 bytes is over 2064",
      3_000,
      "the refused v2 header",
    );
  });

  it("serves a LOCAL header as the balancer's own, and a bare close as a health check", async () => {
    const failed = proxy.logger.named("handshake failed").length;
    const check = await connectFrom(proxy.endpoint);
    await check.write(
      encodeProxyHeader({
        version: 2,
        command: "local",
        source: null,
        destination: null,
      }),
    );
    await check.end();
    await check.ended();
    check.destroy();
    const bare = await connectFrom(proxy.endpoint);
    await bare.end();
    await bare.ended();
    bare.destroy();
    // A LOCAL connection that goes on to SOCKS is the balancer itself.
    const own = await connectFrom(proxy.endpoint);
    try {
      await connectThrough(own, [
        encodeProxyHeader({
          version: 2,
          command: "local",
          source: null,
          destination: null,
        }),
        greeting([0x00]),
      ], echo);
    } finally {
      own.destroy();
    }
    const record = await accessRecord(proxy, `127.0.0.1:${own.localPort}`);
    assert.equal(record.via, undefined);
    assert.equal(proxy.logger.named("handshake failed").length, failed);
  });
});

describe("the PROXY protocol from an untrusted address, and its timeout", () => {
  let proxy: Proxy;

  before(async () => {
    proxy = await startProxy({
      listen: "127.0.0.1:0",
      proxyProtocol: ["127.0.0.1/32"],
      handshakeTimeout: 300,
    });
  });

  after(async () => {
    await proxy?.server.close({ gracePeriod: 0 });
  });

  for (const version of [1, 2] as const) {
    it(`treats a v${version} header from 127.0.0.2 as a bad greeting`, async () => {
      const raw = await connectFrom(proxy.endpoint, "127.0.0.2");
      try {
        await raw.write(header(version, 30_003));
        await raw.write(greeting([0x00])).catch(() => {});
        await assertClosedSilently(raw);
      } finally {
        raw.destroy();
      }
      const failed = await failedHandshakeOf(
        proxy,
        `127.0.0.2:${raw.localPort}`,
      );
      assert.equal(failed.reason, "protocol_error");
      assert.equal(failed.via, undefined);
      assert.equal(proxy.logger.named("access").length, 0);
    });
  }

  it("closes a balancer connection whose header stalls, as a timeout", async () => {
    const raw = await connectFrom(proxy.endpoint);
    const started = Date.now();
    try {
      await raw.write("PROXY TCP4 192.0.2.7 ");
      await assertClosedSilently(raw);
    } finally {
      raw.destroy();
    }
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 250 && elapsed < 3_000, `closed after ${elapsed} ms`);
    await proxy.logger.waitFor(
      (r) =>
        r.msg === "handshake timed out" &&
        r.client === `127.0.0.1:${raw.localPort}`,
      3_000,
      "the timeout",
    );
    assert.equal(failedHandshakes(proxy, "timeout"), 1);
    assert.equal(failedHandshakes(proxy, "proxy_header"), 0);
  });
});

describe("handshake slots behind a balancer", () => {
  let proxy: Proxy;

  before(async () => {
    proxy = await startProxy({
      listen: "127.0.0.1:0",
      proxyProtocol: ["127.0.0.1/32"],
      handshakeTimeout: 30_000,
      limits: { maxPendingHandshakesPerClient: 2 },
    });
  });

  after(async () => {
    await proxy?.server.close({ gracePeriod: 0 });
  });

  // A stalled handshake of `source`, relayed by the balancer at 127.0.0.1.
  async function stall(source: string): Promise<RawSocket> {
    const raw = await connectFrom(proxy.endpoint);
    await raw.write(encodeProxyHeader({
      version: 1,
      source: { host: source, port: 40_000 },
      destination: { host: "127.0.0.1", port: 1080 },
    }));
    return raw;
  }

  function pendingRefusals(): number {
    return sample(
      parseExposition(proxy.server.metrics.render()),
      `edgesocks_connections_refused_total{reason="pending_per_client"}`,
    );
  }

  it("counts the clients the headers name, not the balancer", {
    timeout: 20_000,
  }, async () => {
    const open: RawSocket[] = [];
    try {
      // Five clients behind one balancer address: more than its cap of 2.
      for (let i = 0; i < 5; i++) open.push(await stall(`192.0.2.${10 + i}`));
      for (const raw of open) {
        await raw.write(greeting([0x00]));
        assert.equal(hex(await raw.read(2)), "05 00");
      }
      assert.equal(pendingRefusals(), 0);

      // Three from one client: the third goes over that client's cap.
      const same = [];
      for (let i = 0; i < 3; i++) same.push(await stall("192.0.2.99"));
      open.push(...same);
      await same[2]!.ended(3_000);
      assert.equal(same[2]!.received, 0, "closed without an answer");
      assert.equal(pendingRefusals(), 1);
      const record = proxy.logger.named("refused").at(-1)!;
      assert.equal(record.client, "192.0.2.99:40000");
      assert.equal(record.reason, "maxPendingHandshakesPerClient");
      assert.match(String(record.via), /^127\.0\.0\.1:\d+$/);
    } finally {
      for (const raw of open) raw.destroy();
    }
  });
});
