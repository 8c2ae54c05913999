/**
 * The tunnel: copies bytes both ways between two connections until both
 * directions have ended, passing each half-close on and never holding more
 * than one chunk per direction — two where a runtime's own forwarding reads
 * the next while it writes the last — so a slow reader slows the writer.
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
export function relay(
  client: Connection,
  target: Connection,
  options: RelayOptions = {},
): Promise<RelayResult> {
  return new Promise((resolve) => {
    new Tunnel(client, target, options.idleTimeout ?? 0, resolve)
      .start(options.clientRead);
  });
}

type Direction = "up" | "down";

// A tunnel holds thousands of these at once, so its state lives in one
// object rather than in closures and suspended async functions.
class Tunnel {
  up = 0;
  down = 0;
  end: RelayResult["end"] = "closed";
  #client: Connection;
  #target: Connection;
  #idleTimeout: number;
  #lastActive = Date.now();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #open = 2;
  #resolve: (result: RelayResult) => void;

  constructor(
    client: Connection,
    target: Connection,
    idleTimeout: number,
    resolve: (result: RelayResult) => void,
  ) {
    this.#client = client;
    this.#target = target;
    this.#idleTimeout = idleTimeout;
    this.#resolve = resolve;
  }

  start(clientRead: Promise<Uint8Array | null> | undefined): void {
    if (this.#idleTimeout > 0) this.#watchIdle(this.#idleTimeout);
    this.#pump(this.#client, this.#target, "up", clientRead);
    this.#pump(this.#target, this.#client, "down", undefined);
  }

  #pump(
    from: Connection,
    to: Connection,
    direction: Direction,
    firstRead: Promise<Uint8Array | null> | undefined,
  ): void {
    const counted = (size: number) => {
      this[direction] += size;
      this.#lastActive = Date.now();
    };
    // The runtime's own forwarding when it has one, unless a read is
    // already under way (its chunk must go first).
    const forwarding = firstRead === undefined
      ? from.forwardTo?.(to, counted)
      : null;
    (forwarding ?? copy(from, to, counted, firstRead)).then(
      this.#pumped,
      this.#failed,
    );
  }

  // Arrow fields: one pair per tunnel serves both directions.
  #failed = () => {
    if (this.end === "closed") this.end = "error";
    this.#closeBoth();
    this.#pumped();
  };

  #pumped = () => {
    if (--this.#open > 0) return;
    clearTimeout(this.#timer);
    this.#closeBoth();
    this.#resolve({ up: this.up, down: this.down, end: this.end });
  };

  #closeBoth(): void {
    this.#client.close();
    this.#target.close();
  }

  // One timer per tunnel, re-armed for the time left rather than per chunk.
  #watchIdle(wait: number): void {
    this.#timer = setTimeout(() => {
      const idle = Date.now() - this.#lastActive;
      if (idle < this.#idleTimeout) {
        return this.#watchIdle(this.#idleTimeout - idle);
      }
      this.end = "idle";
      this.#closeBoth();
    }, wait);
  }
}

// The portable path: read a chunk, write it, wait for backpressure.
async function copy(
  from: Connection,
  to: Connection,
  counted: (size: number) => void,
  firstRead: Promise<Uint8Array | null> | undefined,
): Promise<void> {
  for (
    let chunk = await (firstRead ?? from.read());
    chunk;
    chunk = await from.read()
  ) {
    counted(chunk.length);
    await to.write(chunk);
  }
  await to.closeWrite();
}
