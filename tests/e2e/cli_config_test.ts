import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  type CliProcess,
  runCli,
  startCli,
} from "../_helpers/e2e/cli_process.ts";
import { scrapeMetrics } from "../_helpers/e2e/exposition.ts";
import { startProxy } from "../_helpers/e2e/proxy.ts";
import { hex, type RawSocket } from "../_helpers/e2e/raw_socket.ts";
import {
  type Credentials,
  type Endpoint,
  failureReply,
} from "../_helpers/e2e/socks_raw.ts";
import {
  connectFrom,
  negotiate,
  type SessionOptions,
  socksRequest,
} from "../_helpers/e2e/socks_session.ts";
import { startEchoServer, type TcpServer } from "../_helpers/e2e/tcp_server.ts";
import { eventually } from "../_helpers/e2e/with_timeout.ts";

const alice: Credentials = { username: "alice", password: "s3cret" };
const bob: Credentials = { username: "bob", password: "hunter2" };
const encoder = new TextEncoder();

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

function endpointOf(cli: CliProcess): Endpoint {
  return { host: "127.0.0.1", port: cli.port };
}

// Opens a tunnel and checks it relays `text` both ways.
async function openEcho(
  cli: CliProcess,
  destination: Endpoint,
  options: SessionOptions,
): Promise<RawSocket> {
  const { raw, reply } = await socksRequest(
    endpointOf(cli),
    destination,
    options,
  );
  try {
    assert.equal(reply.reply, 0x00, `CONNECT ${destination.port} is served`);
    await assertEchoes(raw, "ping");
    return raw;
  } catch (error) {
    raw.destroy();
    throw error;
  }
}

async function assertEchoes(raw: RawSocket, text: string): Promise<void> {
  const payload = encoder.encode(text);
  await raw.write(payload);
  assert.deepEqual(await raw.read(payload.length), payload);
}

async function assertServed(
  cli: CliProcess,
  destination: Endpoint,
  options: SessionOptions,
): Promise<void> {
  (await openEcho(cli, destination, options)).destroy();
}

async function assertDenied(
  cli: CliProcess,
  destination: Endpoint,
  options: SessionOptions,
): Promise<void> {
  const { raw, reply } = await socksRequest(
    endpointOf(cli),
    destination,
    options,
  );
  try {
    assert.equal(hex(reply.bytes), hex(failureReply(0x02)));
  } finally {
    raw.destroy();
  }
}

async function loginStatus(
  cli: CliProcess,
  credentials: Credentials,
): Promise<number | null> {
  const raw = await connectFrom(endpointOf(cli));
  try {
    return await negotiate(raw, credentials);
  } finally {
    raw.destroy();
  }
}

describe("config file through the CLI", () => {
  let echo: TcpServer;
  let other: TcpServer;
  let dir = "";

  before(async () => {
    echo = await startEchoServer("127.0.0.1");
    other = await startEchoServer("127.0.0.1");
    dir = await mkdtemp(join(tmpdir(), "edgesocks-config-"));
  });

  after(async () => {
    await echo?.close();
    await other?.close();
    if (dir !== "") await rm(dir, { recursive: true, force: true });
  });

  it("serves from a valid file: listen, user, rules, idle-timeout, metrics", async () => {
    const file = join(dir, "valid.json");
    await writeFile(
      file,
      JSON.stringify({
        listen: ["127.0.0.1:0"],
        user: ["alice:s3cret"],
        rules: [`deny port=${other.port}`],
        "idle-timeout": "300ms",
        metrics: "127.0.0.1:0",
        "log-format": "json",
      }),
    );
    const cli = await startCli(["--config", file]);
    try {
      await assertServed(cli, echo, { credentials: alice });
      await assertDenied(cli, other, { credentials: alice });
      assert.equal(await loginStatus(cli, bob), 0x01, "bob is no user");
      // Idle for longer than 300 ms: the server closes the tunnel.
      const idle = await openEcho(cli, echo, { credentials: alice });
      try {
        const started = Date.now();
        assert.equal((await idle.readToEnd(3_000)).length, 0);
        assert.ok(Date.now() - started >= 250, "not before the idle timeout");
      } finally {
        idle.destroy();
      }
      const record = await cli.waitForRecord(
        (r) => r.msg === "access" && r.client === `127.0.0.1:${idle.localPort}`,
        "the idle tunnel's access record",
      );
      assert.equal(record.end, "idle");
      const denied = cli.records().find((r) =>
        r.msg === "access" && r.reply === 0x02
      );
      assert.equal(denied?.rule, `deny port=${other.port}`);
      const url = await cli.waitForStdout(
        /^edgesocks metrics on (http:\/\/127\.0\.0\.1:\d+\/metrics)$/m,
      );
      const samples = await scrapeMetrics(url[1]!);
      assert.equal(
        samples.get('edgesocks_replies_total{command="connect",code="02"}'),
        1,
      );
    } finally {
      assert.equal(await cli.stop(), 0);
    }
  });

  it("flags win over the file; flag rules come before the file's", async () => {
    const file = join(dir, "overridden.json");
    await writeFile(
      file,
      JSON.stringify({
        listen: ["127.0.0.1:1"],
        user: ["alice:from-file"],
        rules: [`deny port=${echo.port}`],
        "log-format": "text",
      }),
    );
    const cli = await startCli([
      "--config",
      file,
      "--listen",
      "127.0.0.1:0",
      "--user",
      "alice:from-flag",
      "--allow",
      `port=${echo.port}`,
      "--log-format",
      "json",
    ]);
    try {
      assert.equal(cli.stdout().match(/listening on/g)?.length, 1);
      await assertServed(cli, echo, {
        credentials: { username: "alice", password: "from-flag" },
      });
      const fromFile = { username: "alice", password: "from-file" };
      assert.equal(await loginStatus(cli, fromFile), 0x01);
      await cli.waitForRecord(
        (r) => r.msg === "access" && r.reply === 0x00,
        "a JSON access record",
      );
    } finally {
      assert.equal(await cli.stop(), 0);
    }
  });

  it("each mistake in the file exits 2 with one stderr line naming the file and key", async () => {
    const cases: [string, string, string][] = [
      ["not_json", "listen: 127.0.0.1:0\n", "--config FILE: not valid JSON"],
      [
        "top_level",
        '["127.0.0.1:0"]',
        "FILE: the top level is not a JSON object",
      ],
      [
        "unknown_key",
        '{"listen": ["127.0.0.1:0"], "idle_timeout": "5s"}',
        "FILE: idle_timeout: there is no such setting",
      ],
      [
        "wrong_type",
        '{"log-level": true}',
        "FILE: log-level: true is not a string",
      ],
      [
        "bad_duration",
        '{"idle-timeout": "soon"}',
        'FILE: idle-timeout: "soon" is not a duration',
      ],
      [
        "bad_listen",
        '{"listen": ["127.0.0.1:0", "nope"]}',
        'FILE: listen[1]: "nope" is not HOST:PORT',
      ],
      [
        "bad_port",
        '{"listen": "127.0.0.1:70000"}',
        "FILE: listen: port 70000 is not in 0-65535",
      ],
      [
        "bad_cidr",
        '{"user": ["alice:s3cret"], "allow-no-auth": ["10.0.0.0/33"]}',
        'FILE: allow-no-auth[0]: Invalid CIDR "10.0.0.0/33"',
      ],
      [
        "bad_balancer",
        '{"proxy-protocol": ["10.0.0.1/24", "balancer"]}',
        'FILE: proxy-protocol[1]: Invalid CIDR "balancer"',
      ],
      [
        "bad_metrics",
        '{"listen": ["127.0.0.1:0"], "metrics": "nope"}',
        'FILE: metrics: "nope" is not HOST:PORT',
      ],
      [
        "bad_rule",
        '{"rules": ["allow port=80", "deny dest=10.0.0.0/40"]}',
        'FILE: rules[1]: Invalid rule "dest=10.0.0.0/40"',
      ],
    ];
    const files = cases.map(([name]) => join(dir, `${name}.json`));
    await Promise.all(
      cases.map(([, text], i) => writeFile(files[i]!, text)),
    );
    const missing = join(dir, "missing.json");
    const runs = await Promise.all([
      ...files.map((file) => runCli(["--config", file])),
      runCli(["--config", missing]),
    ]);
    const expected = [
      ...cases.map(([, , message], i) => message.replace("FILE", files[i]!)),
      `--config ${missing}: cannot read it`,
    ];
    const wrong = runs.flatMap((result, i) => {
      const what = `${cases[i]?.[0] ?? "missing"}: ${result.stderr}`;
      const pattern = new RegExp(`^edgesocks: ${escape(expected[i]!)}.*\\n$`);
      // One line, exit 2, and nothing started.
      const right = result.code === 2 && result.stdout === "" &&
        pattern.test(result.stderr) && result.stderr.split("\n").length === 2;
      return right ? [] : [`${what} (exit ${result.code}) ${result.stdout}`];
    });
    assert.deepEqual(wrong, []);
  });
});

describe("SIGHUP reload through the CLI", () => {
  let echo: TcpServer;
  let other: TcpServer;
  let dir = "";

  before(async () => {
    echo = await startEchoServer("127.0.0.1");
    other = await startEchoServer("127.0.0.1");
    dir = await mkdtemp(join(tmpdir(), "edgesocks-reload-"));
  });

  after(async () => {
    await echo?.close();
    await other?.close();
    if (dir !== "") await rm(dir, { recursive: true, force: true });
  });

  it("keeps live tunnels, applies new users and rules, and keeps them through a broken file", async () => {
    const file = join(dir, "edgesocks.json");
    const base = { listen: ["127.0.0.1:0"], "log-format": "json" };
    await writeFile(
      file,
      JSON.stringify({ ...base, user: ["alice:s3cret"] }),
    );
    const cli = await startCli(["--config", file]);
    let live: RawSocket | undefined;
    try {
      live = await openEcho(cli, echo, { credentials: alice });
      await writeFile(
        file,
        JSON.stringify({
          ...base,
          user: ["bob:hunter2"],
          rules: [`deny port=${echo.port}`],
        }),
      );
      cli.signal("SIGHUP");
      await cli.waitForRecord((r) => r.msg === "reloaded", "the reload");
      await assertEchoes(live, "still here");
      assert.equal(await loginStatus(cli, alice), 0x01, "alice is gone");
      await assertServed(cli, other, { credentials: bob });
      await assertDenied(cli, echo, { credentials: bob });

      await writeFile(file, '{"user": ["carol:x"], "idle-timeout": "soon"}');
      cli.signal("SIGHUP");
      const failed = await cli.waitForRecord(
        (r) => String(r.msg).startsWith("reload failed"),
        "the failed reload",
      );
      assert.equal(failed.level, "error");
      assert.match(
        String(failed.error),
        new RegExp(`^${escape(file)}: idle-timeout: "soon" is not a duration`),
      );
      await assertEchoes(live, "and still");
      await assertServed(cli, other, { credentials: bob });
      await assertDenied(cli, echo, { credentials: bob });
      assert.equal(
        await loginStatus(cli, { username: "carol", password: "x" }),
        0x01,
      );
      assert.equal(
        cli.records().filter((r) => r.msg === "reloaded").length,
        1,
      );
    } finally {
      // A live tunnel would hold SIGTERM's graceful close for 5 s.
      live?.destroy();
      assert.equal(await cli.stop(), 0);
    }
  });

  it("server.reload() refuses an invalid option with a TypeError and keeps the old config", async () => {
    const echoAddress = { host: echo.host, port: echo.port };
    const proxy = await startProxy({ users: { alice: alice.password } });
    const served = async (credentials: Credentials) => {
      const { raw, reply } = await socksRequest(proxy.endpoint, echoAddress, {
        credentials,
      });
      raw.destroy();
      return reply.reply;
    };
    try {
      const { server } = proxy;
      assert.throws(
        () => server.reload({ users: { bob: bob.password }, idleTimeout: -1 }),
        {
          name: "TypeError",
          message: /^Invalid option idleTimeout: -1 is not a duration/,
        },
      );
      assert.throws(() => server.reload({ users: {} }), {
        name: "TypeError",
        message: "Invalid option users: it lists no users",
      });
      assert.throws(() => server.reload({ allowNoAuth: ["10.0.0.0/33"] }), {
        name: "TypeError",
        message: /^Invalid option allowNoAuth\[0\]: /,
      });
      assert.equal(proxy.logger.named("reloaded").length, 0);
      assert.equal(await served(alice), 0x00);
      const raw = await connectFrom(proxy.endpoint);
      try {
        assert.equal(await negotiate(raw, bob), 0x01, "bob was not added");
      } finally {
        raw.destroy();
      }
      server.reload({ users: { bob: bob.password } });
      assert.equal(proxy.logger.named("reloaded").length, 1);
      assert.equal(await served(bob), 0x00);
    } finally {
      await proxy.server.close({ gracePeriod: 0 });
    }
  });
});

describe("metrics through the CLI", () => {
  let echo: TcpServer;

  before(async () => {
    echo = await startEchoServer("127.0.0.1");
  });

  after(async () => {
    await echo?.close();
  });

  it("scrapes exact counters after CONNECTs by address and by name and a failed login", async () => {
    const cli = await startCli([
      "--listen",
      "127.0.0.1:0",
      "--user",
      "alice:s3cret",
      "--metrics",
      "127.0.0.1:0",
      "--log-format",
      "json",
    ]);
    try {
      const url = (await cli.waitForStdout(
        /^edgesocks metrics on (http:\/\/127\.0\.0\.1:\d+\/metrics)$/m,
      ))[1]!;
      const sent = [1000, 10];
      const destinations = [echo, { host: "localhost", port: echo.port }];
      for (const [i, destination] of destinations.entries()) {
        const raw = await openEcho(cli, destination, { credentials: alice });
        try {
          await assertEchoes(raw, "x".repeat(sent[i]! - "ping".length));
          await raw.end();
          assert.equal((await raw.readToEnd()).length, 0);
        } finally {
          raw.destroy();
        }
      }
      assert.equal(await loginStatus(cli, { ...alice, password: "nope" }), 1);
      let samples = new Map<string, number>();
      await eventually(
        () => {
          const done = cli.records().filter((r) =>
            r.msg === "access" || r.msg === "handshake failed"
          );
          return done.length === 3;
        },
        5_000,
        "two access records and a failed handshake",
      );
      // The last connection may still be closing when the record is out.
      for (let i = 0; i < 50; i++) {
        samples = await scrapeMetrics(url);
        if (samples.get("edgesocks_connections_active") === 0) break;
      }
      const total = sent[0]! + sent[1]!;
      const expected: [string, number][] = [
        ["edgesocks_connections_accepted_total", 3],
        ["edgesocks_connections_active", 0],
        ['edgesocks_replies_total{command="connect",code="00"}', 2],
        ['edgesocks_bytes_total{direction="up"}', total],
        ['edgesocks_bytes_total{direction="down"}', total],
        ["edgesocks_auth_failures_total", 1],
        ['edgesocks_handshakes_failed_total{reason="auth_failed"}', 1],
        ['edgesocks_tunnels_total{command="connect"}', 2],
        ['edgesocks_tunnels_active{command="connect"}', 0],
        ["edgesocks_dns_lookup_duration_seconds_count", 1],
        ["edgesocks_dns_lookup_failures_total", 0],
        ['edgesocks_connections_refused_total{reason="limit"}', 0],
        ["edgesocks_logins_throttled_total", 0],
      ];
      for (const [key, value] of expected) {
        assert.equal(samples.get(key), value, key);
      }
    } finally {
      assert.equal(await cli.stop(), 0);
    }
  });
});
