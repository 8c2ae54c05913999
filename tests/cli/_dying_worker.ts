// A stand-in for worker_main.ts, for workers_test.ts: holds one place of
// the shared connection cap, answers scrapes, and dies (exit code 1) when
// told to reload, if it is worker 1.
import process from "node:process";
import { parentPort, workerData } from "node:worker_threads";
import { openSharedState } from "../../src/server/shared_table.ts";
import type { ToWorker, WorkerData } from "../../src/cli/workers.ts";

const data = workerData as WorkerData;
const state = openSharedState(data.shared, data.column, {
  limits: { maxConnections: 10 },
  pending: { max: 0, perClient: 0, ipv6Prefix: 64 },
  throttle: { failures: 0, window: 60_000, block: 60_000 },
});
state.limits.acquire("maxConnections");
parentPort!.on("message", (message: ToWorker) => {
  if (message.type === "reload" && data.column === 1) process.exit(1);
  if (message.type === "metrics") {
    parentPort!.postMessage({
      type: "metrics",
      id: message.id,
      text: "edgesocks_connections_accepted_total 1\n",
    });
  }
  if (message.type === "close") parentPort!.postMessage({ type: "closed" });
});
parentPort!.postMessage({
  type: "log",
  chunk: `{"msg":"started","worker":${data.column}}\n`,
});
parentPort!.postMessage({
  type: "listening",
  addresses: [{ host: "127.0.0.1", port: 1080 }],
});
