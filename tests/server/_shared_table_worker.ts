// A thread that hammers the shared tables, for shared_table_test.ts: takes
// and gives back places and sessions, and reports the most it ever saw held.
import { parentPort, workerData } from "node:worker_threads";
import {
  openSharedState,
  type SharedBuffers,
} from "../../src/server/shared_table.ts";

const { buffers, column, rounds, max } = workerData as {
  buffers: SharedBuffers;
  column: number;
  rounds: number;
  max: number;
};
const state = openSharedState(buffers, column, {
  limits: { maxConnectionsPerClient: max },
  pending: { max: 0, perClient: 0, ipv6Prefix: 64 },
  throttle: { failures: 0, window: 60_000, block: 60_000 },
});
let mostHeld = 0;
let refused = 0;
for (let i = 0; i < rounds; i++) {
  const release = state.limits.acquire("maxConnectionsPerClient", "10.0.0.1");
  if (release === null) {
    refused++;
    continue;
  }
  mostHeld = Math.max(
    mostHeld,
    state.limits.held("maxConnectionsPerClient", "10.0.0.1"),
  );
  const close = state.sessions.open(`10.0.${i % 7}.1`, null, "127.0.0.1");
  if (state.sessions.count(`10.0.${i % 7}.1`, null) < 1) mostHeld = Infinity;
  close();
  release();
}
parentPort!.postMessage({ mostHeld, refused });
