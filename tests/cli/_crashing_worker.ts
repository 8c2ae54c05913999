// worker_main.ts itself, for workers_test.ts, with one addition: told
// `{ type: "crash", column }`, that worker throws from a timer, an uncaught
// error as a bug would throw, and dies with its clients' connections open.
// A thread has no PID to kill, so this is how a test makes a real worker
// die the way a bug would.
import { parentPort, workerData } from "node:worker_threads";
import "../../src/cli/worker_main.ts";
import type { WorkerData } from "../../src/cli/workers.ts";

/** What workers_test.ts sends; the real worker ignores it. */
export interface CrashMessage {
  type: "crash";
  column: number;
}

parentPort!.on("message", (message: CrashMessage) => {
  if (message.type !== "crash") return;
  if (message.column !== (workerData as WorkerData).column) return;
  setTimeout(() => {
    throw new Error("a bug in worker 1");
  });
});
