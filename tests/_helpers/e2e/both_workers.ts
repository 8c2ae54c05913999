/**
 * Checks for a server with two workers: the kernel picks the worker of each
 * connection, so a check repeats until both workers have taken part, a
 * bounded number of times, and learns which worker served a connection
 * from the `worker` field of its log record.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { CliProcess, CliRecord } from "./cli_process.ts";
import type { RawSocket } from "./raw_socket.ts";
import { assertClosedUnanswered, connectFrom } from "./socks_session.ts";

/** Tries per check. */
const TRIES = 24;

/**
 * A server with workers, as these checks see it: the CLI, or a worker pool
 * whose records a test keeps (see `recordWaiter` in cli_process.ts).
 *
 * @example
 * ```ts
 * import type { WorkersServer } from "./both_workers.ts";
 * function port(server: WorkersServer): number {
 *   return server.port;
 * }
 * ```
 */
export type WorkersServer = Pick<CliProcess, "port" | "waitForRecord">;

/**
 * The `msg` record of the connection from `from`:`raw`'s port, once logged.
 *
 * @example
 * ```ts
 * import { recordOf } from "./both_workers.ts";
 * console.log(typeof recordOf); // "function"
 * ```
 */
export async function recordOf(
  server: WorkersServer,
  msg: string,
  from: string,
  raw: RawSocket,
): Promise<CliRecord> {
  const client = `${from}:${raw.localPort}`;
  return await server.waitForRecord(
    (r) => r.msg === msg && r.client === client,
    `the ${msg} record of ${client}`,
  );
}

/**
 * Runs `attempt` (which answers the worker it met) until it has happened
 * on both workers; returns how many attempts it took.
 *
 * @example
 * ```ts
 * import { onBothWorkers } from "./both_workers.ts";
 * let next = 0;
 * console.log(await onBothWorkers(() => Promise.resolve(next++ % 2))); // 2
 * ```
 */
export async function onBothWorkers(
  attempt: () => Promise<number>,
): Promise<number> {
  const seen = new Set<number>();
  let tries = 0;
  while (seen.size < 2 && tries < TRIES) {
    seen.add(await attempt());
    tries++;
  }
  assert.deepEqual([...seen].sort(), [0, 1], `both workers in ${tries} tries`);
  return tries;
}

/**
 * Connects from `from` until both workers have refused it, closed
 * unanswered, and logged `reason`.
 *
 * @example
 * ```ts
 * import { refusedOnBothWorkers } from "./both_workers.ts";
 * console.log(typeof refusedOnBothWorkers); // "function"
 * ```
 */
export async function refusedOnBothWorkers(
  server: WorkersServer,
  from: string,
  reason: string,
): Promise<void> {
  await onBothWorkers(async () => {
    const raw = await connectFrom(
      { host: "127.0.0.1", port: server.port },
      from,
    );
    try {
      await assertClosedUnanswered(raw);
    } finally {
      raw.destroy();
    }
    const record = await recordOf(server, "refused", from, raw);
    assert.equal(record.reason, reason);
    return record.worker as number;
  });
}
