import assert from "node:assert/strict";
import type { Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { SocksClient } from "socks";
import { type LogRecord, parseRule, type ServeOptions } from "../../mod.ts";
import { parseExposition } from "../_helpers/e2e/exposition.ts";
import {
  type Haproxy,
  readmeHaproxyConfig,
  startHaproxy,
} from "../_helpers/e2e/haproxy.ts";
import {
  type HttpServer,
  startHttpServer,
} from "../_helpers/e2e/http_server.ts";
import { type Proxy, startProxy } from "../_helpers/e2e/proxy.ts";
import { RawSocket } from "../_helpers/e2e/raw_socket.ts";
import { run } from "../_helpers/e2e/run.ts";
import type { Endpoint } from "../_helpers/e2e/socks_raw.ts";
import { startEchoServer, type TcpServer } from "../_helpers/e2e/tcp_server.ts";
import { delay, withTimeout } from "../_helpers/e2e/with_timeout.ts";

const CURL = "/usr/bin/curl";
const page = "hello from behind the balancer\n";
const encoder = new TextEncoder();
// The backends trust the balancer, which connects from 127.0.0.1.
const backendOptions: ServeOptions = {
  proxyProtocol: ["127.0.0.1/32"],
  limits: { maxConnectionsPerClient: 2 },
};

// CONNECT through `front` from the loopback address `from` with the
// `socks` client; the caller destroys the socket.
async function socksFrom(
  front: Endpoint,
  from: string,
  destination: Endpoint,
): Promise<Socket> {
  const established = await withTimeout(
    SocksClient.createConnection({
      proxy: { host: front.host, port: front.port, type: 5 },
      command: "connect",
      destination,
      timeout: 5_000,
      socket_options: { localAddress: from, port: front.port },
    }),
    6_000,
    `SOCKS CONNECT from ${from}`,
  );
  return established.socket;
}

async function echoes(socket: Socket): Promise<void> {
  const raw = new RawSocket(socket);
  const payload = encoder.encode("through HAProxy");
  await raw.write(payload);
  assert.deepEqual(await raw.read(payload.length), payload);
}

describe("behind HAProxy with the PROXY protocol", () => {
  let web: HttpServer;
  let echo: TcpServer;
  const backends: Proxy[] = [];
  const balancers = new Map<1 | 2, Haproxy>();
  let started = 0;

  // The one record `matches` picks out, from whichever backend served it.
  async function record(
    msg: string,
    matches: (record: LogRecord) => boolean,
    what: string,
  ): Promise<LogRecord> {
    const found = (r: LogRecord) => r.msg === msg && matches(r);
    for (let i = 0; i < 100; i++) {
      const all = backends.flatMap((b) => b.logger.records.filter(found));
      if (all.length > 0) {
        assert.equal(all.length, 1, `one record of ${what}`);
        return all[0]!;
      }
      await delay(50);
    }
    assert.fail(`no record of ${what} within 5 s`);
  }

  before(async () => {
    web = await startHttpServer("127.0.0.1", { "/hello": page });
    echo = await startEchoServer("127.0.0.1");
    backends.push(await startProxy(backendOptions));
    backends.push(await startProxy(backendOptions));
    const ports = [backends[0]!.endpoint.port, backends[1]!.endpoint.port] as [
      number,
      number,
    ];
    // README's configuration verbatim, and with version 1 headers.
    const config = readmeHaproxyConfig();
    assert.match(config, /send-proxy-v2/);
    started = Date.now();
    balancers.set(2, await startHaproxy(config, ports));
    balancers.set(
      1,
      await startHaproxy(
        config.replaceAll("send-proxy-v2", "send-proxy"),
        ports,
      ),
    );
  });

  after(async () => {
    for (const balancer of balancers.values()) await balancer.stop();
    for (const backend of backends) {
      await backend.server.close({ gracePeriod: 0 });
    }
    await echo?.close();
    await web?.close();
  });

  for (const version of [1, 2] as const) {
    const sends = version === 1 ? "send-proxy" : "send-proxy-v2";

    it(
      `curl from 127.0.0.2 through ${sends} is logged as 127.0.0.2, via the balancer`,
      {
        timeout: 20_000,
      },
      async () => {
        const front = balancers.get(version)!.endpoint;
        const result = await run(CURL, [
          "-sS",
          "--max-time",
          "10",
          "--interface",
          "127.0.0.2",
          "--proxy",
          `socks5h://127.0.0.1:${front.port}`,
          `http://127.0.0.1:${web.port}/hello`,
        ]);
        assert.equal(result.stderr, "");
        assert.equal(result.code, 0);
        assert.equal(result.stdout, page);
        const access = await record(
          "access",
          (r) =>
            String(r.client).startsWith("127.0.0.2:") &&
            r.destination === `127.0.0.1:${web.port}` &&
            (r.down as number) > 0 && !seen.has(r),
          `curl through ${sends}`,
        );
        seen.add(access);
        assert.match(String(access.via), /^127\.0\.0\.1:\d+$/);
        assert.equal(access.reply, 0x00);
      },
    );

    it(
      `the socks client from 127.0.0.2 through ${sends} is logged with its own port`,
      {
        timeout: 20_000,
      },
      async () => {
        const front = balancers.get(version)!.endpoint;
        const socket = await socksFrom(front, "127.0.0.2", echo);
        const port = socket.localPort;
        try {
          await echoes(socket);
        } finally {
          socket.destroy();
        }
        const access = await record(
          "access",
          (r) => r.client === `127.0.0.2:${port}`,
          `the socks client through ${sends}`,
        );
        assert.match(String(access.via), /^127\.0\.0\.1:\d+$/);
        assert.equal(access.destination, `127.0.0.1:${echo.port}`);
      },
    );
  }

  it("--deny client=127.0.0.2/32 refuses 127.0.0.2 while 127.0.0.3 is served", {
    timeout: 20_000,
  }, async () => {
    const front = balancers.get(2)!.endpoint;
    for (const backend of backends) {
      backend.server.reload({
        ...backendOptions,
        rules: [parseRule("deny", "client=127.0.0.2/32")],
      });
    }
    try {
      await assert.rejects(socksFrom(front, "127.0.0.2", echo));
      const refused = await record(
        "refused",
        (r) => String(r.client).startsWith("127.0.0.2:"),
        "the refused client",
      );
      assert.equal(refused.reason, "rule");
      assert.equal(refused.rule, "deny client=127.0.0.2/32");
      assert.match(String(refused.via), /^127\.0\.0\.1:\d+$/);
      const socket = await socksFrom(front, "127.0.0.3", echo);
      try {
        await echoes(socket);
      } finally {
        socket.destroy();
      }
    } finally {
      for (const backend of backends) backend.server.reload(backendOptions);
    }
  });

  it("a per-client limit counts the real client, not the balancer", {
    timeout: 20_000,
  }, async () => {
    const front = balancers.get(2)!.endpoint;
    const held: Socket[] = [];
    try {
      // balance source: all of 127.0.0.2's connections reach one backend.
      for (let i = 0; i < 2; i++) {
        const socket = await socksFrom(front, "127.0.0.2", echo);
        held.push(socket);
        await echoes(socket);
      }
      await assert.rejects(socksFrom(front, "127.0.0.2", echo));
      const refused = await record(
        "refused",
        (r) =>
          r.reason === "maxConnectionsPerClient" &&
          String(r.client).startsWith("127.0.0.2:"),
        "the client over its limit",
      );
      assert.match(String(refused.via), /^127\.0\.0\.1:\d+$/);
      // Behind the same balancer address, another client is still served.
      const other = await socksFrom(front, "127.0.0.3", echo);
      held.push(other);
      await echoes(other);
    } finally {
      for (const socket of held) socket.destroy();
    }
  });

  it("HAProxy's health checks leave no failed-handshake records", {
    timeout: 20_000,
  }, async () => {
    // Two balancers check each backend every 2 s from their start: after
    // 5 s, each backend has had at least four checks. A check sends its
    // PROXY header and resets; most reset before the accept is handled.
    await delay(Math.max(0, started + 5_000 - Date.now()));
    for (const backend of backends) {
      const { logger } = backend;
      assert.deepEqual(logger.named("handshake failed"), []);
      assert.deepEqual(logger.named("accept failed"), []);
      const metrics = parseExposition(backend.server.metrics.render());
      for (const [key, value] of metrics) {
        if (key.startsWith("edgesocks_handshakes_failed_total")) {
          assert.equal(value, 0, key);
        }
      }
    }
  });
});

const seen = new Set<LogRecord>();
