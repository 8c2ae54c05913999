import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { WorkerPool } from "../../src/cli/workers.ts";
import { createLogger } from "../../src/observe/logger.ts";
import {
  allocateSharedState,
  openSharedState,
} from "../../src/server/shared_table.ts";
import { eventually } from "../_helpers/e2e/with_timeout.ts";

describe("WorkerPool", () => {
  it(
    "replaces a worker that dies and clears what it held",
    { timeout: 30_000 },
    async () => {
      const lines: string[] = [];
      const logger = createLogger({
        level: "info",
        format: "json",
        write: (line) => lines.push(line),
      });
      const shared = allocateSharedState({ workers: 2, loginFailures: 0 });
      const extension = import.meta.url.endsWith(".ts") ? ".ts" : ".js";
      const pool = new WorkerPool({
        args: [],
        shared,
        logger,
        logFormat: "json",
        script: new URL(`./_dying_worker${extension}`, import.meta.url),
      });
      const view = openSharedState(shared, 0, {
        limits: { maxConnections: 10 },
        pending: { max: 0, perClient: 0, ipv6Prefix: 64 },
        throttle: { failures: 0, window: 60_000, block: 60_000 },
      });
      try {
        assert.deepEqual(await pool.start(2), [{
          host: "127.0.0.1",
          port: 1080,
        }]);
        assert.equal(view.limits.held("maxConnections"), 2);
        pool.post({ type: "reload" });
        await eventually(
          () => lines.filter((l) => l.includes('"msg":"started"')).length === 3,
          10_000,
          "a third worker to start",
        );
        const died = lines.map((l) => JSON.parse(l)).filter((r) =>
          r.msg === "worker died; starting another"
        );
        assert.deepEqual(died.map((r) => [r.worker, r.code]), [[1, 1]]);
        // Worker 0 and the new worker 1 hold a place each: none leaked.
        assert.equal(view.limits.held("maxConnections"), 2);
        const scrape = await pool.metrics();
        assert.ok(scrape.includes("edgesocks_connections_accepted_total 2\n"));
        assert.ok(
          scrape.includes(
            'edgesocks_worker_connections_accepted_total{worker="1"} 1\n',
          ),
        );
      } finally {
        await pool.close();
      }
    },
  );
});
