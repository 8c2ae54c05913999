/**
 * Push reading on any connection: the runtime's own when the adapter has
 * one (`Connection.receive`), else a read loop, so a driver fed bytes is
 * written once for every runtime.
 *
 * @module
 */

import type { Connection, Receiver } from "./connection.ts";

/**
 * Sends every chunk of a connection to a receiver, then the end, from
 * `start()` until `stop()`. Stop from within `receiver.data()`, or when
 * closing: a loop's read already under way at another time would hand its
 * chunk to no one.
 */
export class Receiving {
  #conn: Connection;
  #receiver: Receiver;
  #receiving = false;

  constructor(conn: Connection, receiver: Receiver) {
    this.#conn = conn;
    this.#receiver = receiver;
  }

  start(): void {
    this.#receiving = true;
    if (this.#conn.receive !== undefined) this.#conn.receive(this.#receiver);
    else void this.#loop();
  }

  stop(): void {
    if (!this.#receiving) return;
    this.#receiving = false;
    this.#conn.receive?.(null);
  }

  async #loop(): Promise<void> {
    const conn = this.#conn;
    try {
      // Checked before each read: a stop from within data() starts none.
      while (this.#receiving) {
        const chunk = await conn.read();
        if (!this.#receiving) return;
        if (chunk === null) return this.#receiver.end(null);
        this.#receiver.data(chunk);
      }
    } catch (error) {
      if (this.#receiving) this.#receiver.end(error);
    }
  }
}
