/**
 * Run by lifecycle_test.ts as a child process on the runtime under test:
 * starts a server, waits until the parent has pushed traffic through it and
 * left one tunnel open and one handshake stalled, closes the server, and
 * then simply returns. It never calls `process.exit`: if any socket, timer
 * or listener of the server were left open, the process would stay alive,
 * and the parent would see it.
 *
 * Prints `port N` once listening, then `closed MS COUNT` (the time close()
 * took and the connections left), or `not ready` if the parent's traffic
 * never arrived.
 *
 * @module
 */

import { serve } from "../../../mod.ts";

// The parent first finishes three requests (each logs one access record),
// then opens a tunnel and stalls a handshake.
const FINISHED = 3;
let accessRecords = 0;
const server = await serve({
  listen: "127.0.0.1:0",
  logger: {
    log(record) {
      if (record.msg === "access") accessRecords++;
    },
  },
});
console.log(`port ${server.addresses[0]!.port}`);

// Once the finished requests are logged their sessions and connections are
// gone, so one session and two connections are the tunnel and the stalled
// handshake. Bounded: 10 s of 10 ms polls.
const deadline = Date.now() + 10_000;
let ready = false;
while (Date.now() < deadline) {
  ready = accessRecords === FINISHED &&
    server.sessionCount("127.0.0.1") === 1 &&
    server.connectionCount === 2;
  if (ready) break;
  await new Promise((resolve) => setTimeout(resolve, 10));
}
if (!ready) console.log("not ready");
const started = Date.now();
await server.close({ gracePeriod: 200 });
console.log(`closed ${Date.now() - started} ${server.connectionCount}`);
