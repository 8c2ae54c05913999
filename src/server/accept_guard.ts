/**
 * What the accept loops do when accepting fails, above all when the
 * process is out of descriptors (EMFILE, ENFILE): never spin, log a count
 * once a second instead of a line per failure, and never leave a client
 * waiting in the listen backlog.
 *
 * For that last, the guard holds one spare descriptor (a UDP socket on
 * loopback), as libuv does for Node: on EMFILE it gives the spare up, so
 * the next accept succeeds. If the spare cannot be taken back then, the
 * process is still out of descriptors and the client accepted is closed
 * at once, which frees the descriptor for the spare: each failed accept
 * closes one waiting client, until the backlog is empty. Without a spare (it could not be had back), the
 * loop waits before the next attempt, from 10 ms doubling up to 500 ms, so
 * a waiting client hears back in well under a second once descriptors
 * free up.
 *
 * @module
 */

import type { Connection, Network, UdpSocket } from "../net/connection.ts";
import type { Logger } from "../observe/logger.ts";
import type { AcceptErrorCode, Metrics } from "../observe/metrics.ts";

const FIRST_DELAY = 10;
const MAX_DELAY = 500;
const LOG_INTERVAL = 1000;

/**
 * Accept failures of one server: counting, logging, backing off, and the
 * spare descriptor.
 *
 * @example
 * ```ts
 * import { AcceptGuard } from "./accept_guard.ts";
 * import type { Network } from "../net/connection.ts";
 * import { Metrics } from "../observe/metrics.ts";
 * async function guard(network: Network) {
 *   const guard = new AcceptGuard({ network, logger: { log() {} }, metrics: new Metrics() });
 *   await guard.start();
 *   guard.close();
 * }
 * ```
 */
export class AcceptGuard {
  readonly #network: Network;
  readonly #logger: Logger;
  readonly #metrics: Metrics;
  #spare: UdpSocket | null = null;
  #usesSpare = false;
  #taking: Promise<void> | null = null;
  #delay = FIRST_DELAY;
  #unlogged = 0;
  #loggedAt = -Infinity;
  #failing = false;
  #closed = false;
  // One per accept loop waiting out a back-off.
  readonly #wakers = new Set<() => void>();
  // The spare is given up: a client accepted now may find none left.
  #shedding = false;

  constructor(
    init: { network: Network; logger: Logger; metrics: Metrics },
  ) {
    this.#network = init.network;
    this.#logger = init.logger;
    this.#metrics = init.metrics;
  }

  /**
   * Takes the spare descriptor, on a network that can run out of them
   * (one that tells its descriptor limit).
   */
  start(): Promise<void> {
    if (this.#network.descriptorLimit === undefined) return Promise.resolve();
    this.#usesSpare = true;
    return this.#takeSpare();
  }

  /**
   * `accept()` rejected with `error`: counts and maybe logs it, then
   * either gives the spare up (returning at once) or waits.
   */
  async failed(error: unknown, address: string): Promise<void> {
    const code = errorCode(error);
    this.#metrics.acceptFailed(code);
    this.#failing = true;
    this.#unlogged++;
    const now = Date.now();
    if (now - this.#loggedAt >= LOG_INTERVAL) {
      this.#logger.log({
        level: "warn",
        msg: "accept failing",
        address,
        failures: this.#unlogged,
        code,
        error: (error as Error)?.message ?? String(error),
      });
      this.#loggedAt = now;
      this.#unlogged = 0;
    }
    const outOfDescriptors = code === "EMFILE" || code === "ENFILE";
    if (outOfDescriptors && this.#spare !== null) {
      this.#spare.close();
      this.#spare = null;
      this.#shedding = true;
      // Some runtimes (Deno's node:dgram) free it on the next turn.
      await this.#sleep(1);
      return;
    }
    await this.#sleep(this.#delay);
    this.#delay = Math.min(this.#delay * 2, MAX_DELAY);
  }

  /**
   * `accept()` gave `conn`: true to serve it. While the spare is given up,
   * the spare is taken back first; if that fails the process is still out
   * of descriptors, so `conn` is closed (freeing one) and false returned.
   */
  accepted(conn: Connection, address: string): boolean | Promise<boolean> {
    // The common case answers at once: no promise per accepted client.
    if (this.#shedding) return this.#acceptedShedding(conn, address);
    this.#acceptedAgain(address);
    return true;
  }

  async #acceptedShedding(conn: Connection, address: string): Promise<boolean> {
    await this.#takeSpare();
    if (this.#spare === null) {
      conn.close();
      this.#metrics.connectionRefused("descriptors");
      await this.#takeSpare();
      // A client closed is progress: the next failure need not wait long.
      this.#delay = FIRST_DELAY;
      return false;
    }
    this.#shedding = false;
    this.#acceptedAgain(address);
    return true;
  }

  #acceptedAgain(address: string): void {
    this.#delay = FIRST_DELAY;
    if (!this.#failing) return;
    this.#failing = false;
    this.#logger.log({
      level: "info",
      msg: "accepting again",
      address,
      failures: this.#unlogged,
    });
    this.#unlogged = 0;
    this.#loggedAt = -Infinity;
    if (this.#usesSpare && this.#spare === null) void this.#takeSpare();
  }

  /** Frees the spare and ends any wait. */
  close(): void {
    this.#closed = true;
    this.#spare?.close();
    this.#spare = null;
    for (const wake of this.#wakers) wake();
  }

  #takeSpare(): Promise<void> {
    this.#taking ??= Promise.resolve()
      .then(() => this.#network.bindUdp({ host: "127.0.0.1", port: 0 }, ignore))
      .then((socket) => {
        if (this.#closed || this.#spare !== null) socket.close();
        else this.#spare = socket;
      }, () => {
        // Still out of descriptors, or no loopback: back off instead.
      })
      .finally(() => this.#taking = null);
    return this.#taking;
  }

  #sleep(ms: number): Promise<void> {
    if (this.#closed) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.#wakers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.#wakers.add(wake);
    });
  }
}

function ignore(): void {}

// The runtime's error code, as counted in the metrics.
function errorCode(error: unknown): AcceptErrorCode {
  const code = (error as { code?: unknown } | null)?.code;
  return code === "EMFILE" || code === "ENFILE" ? code : "other";
}
