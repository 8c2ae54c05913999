// `--workers 2` over real sockets: clients land on both workers (shown by
// the `worker` field of their log records), and the session rule, the
// limits, the login throttle, the metrics and SIGHUP behave as with one.
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { after, before, describe, it } from "node:test";
import {
  onBothWorkers,
  recordOf,
  refusedOnBothWorkers,
} from "../_helpers/e2e/both_workers.ts";
import { type CliProcess, startCli } from "../_helpers/e2e/cli_process.ts";
import { scrapeMetrics } from "../_helpers/e2e/exposition.ts";
import type { RawSocket } from "../_helpers/e2e/raw_socket.ts";
import type { Credentials, Endpoint } from "../_helpers/e2e/socks_raw.ts";
import {
  CMD,
  connectFrom,
  negotiate,
  socksRequest,
} from "../_helpers/e2e/socks_session.ts";
import { startEchoServer, type TcpServer } from "../_helpers/e2e/tcp_server.ts";

const TIMEOUT = { timeout: 60_000 };
const alice: Credentials = { username: "alice", password: "s3cret" };
const bob: Credentials = { username: "bob", password: "hunter2" };

function endpoint(cli: CliProcess): Endpoint {
  return { host: "127.0.0.1", port: cli.port };
}

describe("edgesocks --workers 2", () => {
  let echo: TcpServer;
  let cli: CliProcess;
  let metricsUrl: string;

  before(async () => {
    echo = await startEchoServer("127.0.0.1");
    cli = await startCli([
      "--listen",
      "127.0.0.1:0",
      "--workers",
      "2",
      "--log-format",
      "json",
      "--metrics",
      "127.0.0.1:0",
      "--max-connections-per-client",
      "3",
      "--bind-timeout",
      "2s",
    ]);
    const [, address] = await cli.waitForStdout(/metrics on (http:\S+)\n/);
    metricsUrl = address!;
  });

  after(async () => {
    await cli?.stop();
    await echo?.close();
  });

  it(
    "spreads clients over both workers and sums their metrics",
    TIMEOUT,
    async () => {
      let made = 0;
      await onBothWorkers(async () => {
        const { raw, reply } = await socksRequest(endpoint(cli), echo);
        made++;
        assert.equal(reply.reply, 0x00);
        raw.destroy();
        const record = await recordOf(cli, "access", "127.0.0.1", raw);
        return record.worker as number;
      });
      const samples = await scrapeMetrics(metricsUrl);
      assert.equal(samples.get("edgesocks_connections_accepted_total"), made);
      const perWorker = [0, 1].map((w) =>
        samples.get(
          `edgesocks_worker_connections_accepted_total{worker="${w}"}`,
        )!
      );
      assert.equal(perWorker[0]! + perWorker[1]!, made);
      assert.ok(perWorker[0]! > 0 && perWorker[1]! > 0, `${perWorker}`);
    },
  );

  it(
    "serves BIND on either worker while a CONNECT is open, refuses it once closed",
    TIMEOUT,
    async () => {
      const from = "127.0.0.2";
      const tunnel = await socksRequest(endpoint(cli), echo, { from });
      assert.equal(tunnel.reply.reply, 0x00);
      try {
        await onBothWorkers(async () => {
          const { raw, reply } = await socksRequest(endpoint(cli), echo, {
            from,
            command: CMD.bind,
          });
          raw.destroy();
          assert.equal(
            reply.reply,
            0x00,
            "BIND served while the CONNECT is open",
          );
          return (await recordOf(cli, "access", from, raw)).worker as number;
        });
      } finally {
        tunnel.raw.destroy();
      }
      await recordOf(cli, "access", from, tunnel.raw);
      await onBothWorkers(async () => {
        const { raw, reply } = await socksRequest(endpoint(cli), echo, {
          from,
          command: CMD.bind,
        });
        raw.destroy();
        assert.equal(reply.reply, 0x02, "BIND refused once the CONNECT closed");
        return (await recordOf(cli, "access", from, raw)).worker as number;
      });
    },
  );

  it(
    "admits exactly --max-connections-per-client over both workers",
    TIMEOUT,
    async () => {
      const from = "127.0.0.3";
      const held: RawSocket[] = [];
      try {
        for (let i = 0; i < 3; i++) {
          const raw = await connectFrom(endpoint(cli), from);
          held.push(raw);
          assert.equal(await negotiate(raw), null);
        }
        await refusedOnBothWorkers(cli, from, "maxConnectionsPerClient");
      } finally {
        for (const raw of held) raw.destroy();
      }
    },
  );
});

const base = { listen: ["127.0.0.1:0"] };

function login(credentials: Credentials): string {
  return `${credentials.username}:${credentials.password}`;
}

describe("edgesocks --workers 2 with logins", () => {
  let echo: TcpServer;
  let cli: CliProcess;
  let dir: string;
  let config: string;

  before(async () => {
    echo = await startEchoServer("127.0.0.1");
    dir = await mkdtemp(join(tmpdir(), "edgesocks-workers-"));
    config = join(dir, "edgesocks.json");
    await writeFile(config, JSON.stringify({ ...base, user: [login(alice)] }));
    cli = await startCli([
      "--config",
      config,
      "--workers",
      "2",
      "--log-format",
      "json",
      "--max-connections",
      "4",
      "--login-failures",
      "3",
    ]);
  });

  after(async () => {
    await cli?.stop();
    await echo?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it(
    "admits exactly --max-connections over both workers",
    TIMEOUT,
    async () => {
      const held: RawSocket[] = [];
      try {
        for (let i = 0; i < 4; i++) {
          const raw = await connectFrom(endpoint(cli), "127.0.0.5");
          held.push(raw);
          assert.equal(await negotiate(raw, alice), 0x00);
        }
        await refusedOnBothWorkers(cli, "127.0.0.6", "maxConnections");
      } finally {
        for (const raw of held) raw.destroy();
      }
    },
  );

  it(
    "blocks an address on every worker after failures on any",
    TIMEOUT,
    async () => {
      const from = "127.0.0.7";
      const wrong = { username: "alice", password: "wrong" };
      for (let i = 0; i < 3; i++) {
        const raw = await connectFrom(endpoint(cli), from);
        try {
          assert.notEqual(await negotiate(raw, wrong), 0x00);
        } finally {
          raw.destroy();
        }
      }
      await refusedOnBothWorkers(cli, from, "throttled");
    },
  );

  it("reloads every worker on SIGHUP", TIMEOUT, async () => {
    await writeFile(
      config,
      JSON.stringify({ ...base, user: [login(alice), login(bob)] }),
    );
    cli.signal("SIGHUP");
    for (const worker of [0, 1]) {
      await cli.waitForRecord(
        (r) => r.msg === "reloaded" && r.worker === worker,
        `worker ${worker} to reload`,
      );
    }
    await onBothWorkers(async () => {
      const { raw, reply } = await socksRequest(endpoint(cli), echo, {
        from: "127.0.0.8",
        credentials: bob,
      });
      raw.destroy();
      assert.equal(reply.reply, 0x00);
      return (await recordOf(cli, "access", "127.0.0.8", raw)).worker as number;
    });
  });

  it("exits 0 on SIGTERM with nothing left running", TIMEOUT, async () => {
    const pid = cli.pid;
    assert.equal(await cli.stop(), 0);
    assert.throws(() => process.kill(pid, 0), "the process is gone");
    const closed = cli.records().filter((r) => r.msg === "closed");
    assert.deepEqual(closed.map((r) => r.worker).sort(), [0, 1]);
  });
});
