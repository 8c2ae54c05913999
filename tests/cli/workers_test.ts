import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type ToWorker, WorkerPool } from "../../src/cli/workers.ts";
import { createLogger } from "../../src/observe/logger.ts";
import { allocateSharedState } from "../../src/server/shared_table.ts";
import {
  onBothWorkers,
  recordOf,
  refusedOnBothWorkers,
  type WorkersServer,
} from "../_helpers/e2e/both_workers.ts";
import { recordWaiter } from "../_helpers/e2e/cli_process.ts";
import { parseExposition } from "../_helpers/e2e/exposition.ts";
import type { RawSocket } from "../_helpers/e2e/raw_socket.ts";
import { socksRequest } from "../_helpers/e2e/socks_session.ts";
import { startEchoServer } from "../_helpers/e2e/tcp_server.ts";
import type { CrashMessage } from "./_crashing_worker.ts";

describe("WorkerPool", () => {
  it(
    "replaces a real worker that crashes with tunnels open, and frees their places",
    { timeout: 60_000 },
    async () => {
      const records: Record<string, unknown>[] = [];
      const logger = createLogger({
        level: "info",
        format: "json",
        write: (line) => records.push(JSON.parse(line)),
      });
      const echo = await startEchoServer("127.0.0.1");
      const extension = import.meta.url.endsWith(".ts") ? ".ts" : ".js";
      const pool = new WorkerPool({
        args: ["--listen", "127.0.0.1:0", "--max-connections-per-client", "1"],
        shared: allocateSharedState({ workers: 2, loginFailures: 0 }),
        logger,
        logFormat: "json",
        script: new URL(`./_crashing_worker${extension}`, import.meta.url),
      });
      // One tunnel per client address, each the address's only place.
      const tunnels: { from: string; raw: RawSocket }[] = [];
      try {
        const [address] = await pool.start(2);
        const server: WorkersServer = {
          port: address!.port,
          waitForRecord: recordWaiter(() => records),
        };
        const proxy = { host: "127.0.0.1", port: server.port };
        const active = async () => {
          const samples = parseExposition(await pool.metrics());
          return [0, 1].map((w) =>
            samples.get(`edgesocks_worker_connections_active{worker="${w}"}`)!
          );
        };
        // Until both workers hold a tunnel (the kernel picks; bounded).
        let held = [0, 0];
        for (let i = 0; i < 24 && !(held[0]! > 0 && held[1]! > 0); i++) {
          const from = `127.0.0.${20 + i}`;
          const { raw, reply } = await socksRequest(proxy, echo, { from });
          assert.equal(reply.reply, 0x00);
          tunnels.push({ from, raw });
          held = await active();
        }
        assert.ok(held[0]! > 0 && held[1]! > 0, `tunnels per worker: ${held}`);

        const crash: CrashMessage = { type: "crash", column: 1 };
        pool.post(crash as unknown as ToWorker);
        const died = await server.waitForRecord(
          (r) => r.msg === "worker died; starting another",
          "worker 1 to die",
          10_000,
        );
        assert.equal(died.worker, 1);
        assert.ok(
          records.some((r) =>
            r.msg === "worker crashed" && r.worker === 1 &&
            String(r.error).includes("a bug in worker 1")
          ),
          "the crash is logged with its error",
        );

        // Worker 1's tunnels end with it; worker 0's still carry bytes.
        const dropped: string[] = [];
        const kept: string[] = [];
        for (const { from, raw } of tunnels) {
          await raw.write("ping").catch(() => {});
          const echoed = await raw.read(4, 3_000).then(
            (bytes) => new TextDecoder().decode(bytes),
            () => null,
          );
          if (echoed === "ping") kept.push(from);
          else {
            assert.notEqual(
              raw.ending,
              null,
              `${from}: neither echoed nor ended`,
            );
            dropped.push(from);
          }
        }
        assert.deepEqual([kept.length, dropped.length], held);

        // A new worker 1 serves: once it listens, new clients land on both
        // workers again.
        await server.waitForRecord(
          (r) =>
            r.msg === "listening" && r.worker === 1 &&
            records.indexOf(r) > records.indexOf(died),
          "a new worker 1 to listen",
          20_000,
        );
        let next = 60;
        await onBothWorkers(async () => {
          const from = `127.0.0.${next++}`;
          const { raw, reply } = await socksRequest(proxy, echo, { from });
          raw.destroy();
          assert.equal(reply.reply, 0x00);
          return (await recordOf(server, "access", from, raw)).worker as number;
        });
        const restarts = records.filter((r) =>
          r.msg === "worker died; starting another"
        );
        assert.equal(restarts.length, 1, "worker 1 died once");

        // The dead worker's places are free: each dropped client is
        // admitted again, while a kept one still holds its only place (on
        // worker 0) and is refused by both workers.
        for (const from of dropped) {
          const { raw, reply } = await socksRequest(proxy, echo, { from });
          raw.destroy();
          assert.equal(reply.reply, 0x00, `${from} admitted again`);
        }
        await refusedOnBothWorkers(server, kept[0]!, "maxConnectionsPerClient");
      } finally {
        for (const { raw } of tunnels) raw.destroy();
        await pool.close();
        await echo.close();
      }
    },
  );
});
