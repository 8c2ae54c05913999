/**
 * The tunnel: copies bytes both ways between two connections until both
 * directions have ended, passing each half-close on and never holding more
 * than one chunk per direction (a slow reader slows the writer down).
 *
 * @module
 */

import type { Connection } from "./connection.ts";

/**
 * Options of {@linkcode relay}.
 *
 * @example
 * ```ts
 * import type { RelayOptions } from "./relay.ts";
 * const options: RelayOptions = { idleTimeout: 300_000 };
 * ```
 */
export interface RelayOptions {
  /** Closes the tunnel after this many ms with no byte either way; 0: never. */
  idleTimeout?: number;
  /**
   * A `client.read()` already under way (started while the tunnel was being
   * set up): its chunk is the first one relayed up.
   */
  clientRead?: Promise<Uint8Array | null>;
}

/**
 * What went through a tunnel.
 *
 * @example
 * ```ts
 * import type { RelayResult } from "./relay.ts";
 * const result: RelayResult = { up: 10, down: 2000, end: "closed" };
 * ```
 */
export interface RelayResult {
  /** Bytes from the client to the destination. */
  up: number;
  /** Bytes from the destination to the client. */
  down: number;
  /** `closed`: both sides finished; `idle`: timed out; `error`: reset. */
  end: "closed" | "idle" | "error";
}

/**
 * Relays between `client` and `target` and closes both when done. Never
 * rejects: a reset on either side ends the tunnel with `end: "error"`.
 *
 * @example
 * ```ts
 * import { relay } from "./relay.ts";
 * import type { Connection } from "./connection.ts";
 * async function tunnel(client: Connection, target: Connection) {
 *   const { up, down } = await relay(client, target, { idleTimeout: 0 });
 *   console.log(`${up} bytes up, ${down} down`);
 * }
 * ```
 */
export async function relay(
  client: Connection,
  target: Connection,
  options: RelayOptions = {},
): Promise<RelayResult> {
  const counts = { up: 0, down: 0 };
  let end: RelayResult["end"] = "closed";
  let lastActive = Date.now();
  const closeBoth = () => {
    client.close();
    target.close();
  };
  const pump = async (
    from: Connection,
    to: Connection,
    direction: "up" | "down",
    firstRead?: Promise<Uint8Array | null>,
  ) => {
    const counted = (size: number) => {
      counts[direction] += size;
      lastActive = Date.now();
    };
    try {
      // The runtime's own forwarding when it has one, unless a read is
      // already under way (its chunk must go first).
      const forwarding = firstRead === undefined
        ? from.forwardTo?.(to, counted)
        : null;
      if (forwarding) return await forwarding;
      for (
        let chunk = await (firstRead ?? from.read());
        chunk;
        chunk = await from.read()
      ) {
        counted(chunk.length);
        await to.write(chunk);
      }
      await to.closeWrite();
    } catch {
      if (end === "closed") end = "error";
      closeBoth();
    }
  };
  const idleTimeout = options.idleTimeout ?? 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  // One timer per tunnel, re-armed for the time left rather than per chunk.
  const watchIdle = (wait: number) => {
    timer = setTimeout(() => {
      const idle = Date.now() - lastActive;
      if (idle < idleTimeout) return watchIdle(idleTimeout - idle);
      end = "idle";
      closeBoth();
    }, wait);
  };
  if (idleTimeout > 0) watchIdle(idleTimeout);
  try {
    await Promise.all([
      pump(client, target, "up", options.clientRead),
      pump(target, client, "down"),
    ]);
  } finally {
    clearTimeout(timer);
    closeBoth();
  }
  return { ...counts, end };
}
