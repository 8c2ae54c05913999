/**
 * Pieces every adapter needs: a pull queue over push-style socket events,
 * read buffer sizing, and address normalisation.
 *
 * @module
 */

import { toSocksAddress } from "../../wire/address.ts";

/** How an {@linkcode Inbox} stops and restarts its source. */
export interface Flow {
  /** Stop delivering: the queue holds a chunk nobody asked for yet. */
  pause(): void;
  /** Deliver again: a reader is waiting. */
  resume(): void;
}

/**
 * Turns pushed items (socket `data` events, accepted sockets) into `read()`
 * calls. It pauses the source as soon as an item arrives that no one is
 * waiting for, so at most one unread chunk is held: backpressure. With a
 * receiver (see {@linkcode Inbox.deliverTo}), items go straight to it.
 */
export class Inbox<T = Uint8Array> {
  #queue: T[] = [];
  #receiver: {
    data(item: T): void;
    end(error: unknown): void;
  } | null = null;
  #waiter: {
    resolve: (item: T | null) => void;
    reject: (error: unknown) => void;
  } | null = null;
  #done = false;
  #error: unknown = null;
  #flow: Flow;

  constructor(flow: Flow) {
    this.#flow = flow;
  }

  /** An item arrived. */
  push(item: T): void {
    if (this.#done) return;
    if (this.#receiver !== null) return this.#receiver.data(item);
    const waiter = this.#waiter;
    if (waiter !== null) {
      this.#waiter = null;
      waiter.resolve(item);
      return;
    }
    this.#queue.push(item);
    this.#flow.pause();
  }

  /**
   * No more items: after the queue drains, `read()` gives `null`, or
   * rejects once with `error`.
   */
  end(error: unknown): void {
    if (this.#done) return;
    this.#done = true;
    const receiver = this.#receiver;
    if (receiver !== null) {
      this.#receiver = null;
      return receiver.end(error);
    }
    this.#error = error;
    const waiter = this.#waiter;
    if (waiter === null) return;
    this.#waiter = null;
    if (error === null) waiter.resolve(null);
    else {
      this.#error = null;
      waiter.reject(error);
    }
  }

  /**
   * Pushes every item to `receiver` from now on, what is queued first, then
   * the end; `null` queues them for `read()` again. This is the adapters'
   * `Connection.receive()`.
   */
  deliverTo(
    receiver: { data(item: T): void; end(error: unknown): void } | null,
  ): void {
    this.#receiver = receiver;
    if (receiver === null) return;
    while (this.#queue.length > 0 && this.#receiver === receiver) {
      receiver.data(this.#queue.shift()!);
    }
    if (this.#receiver !== receiver) return;
    if (this.#done) {
      this.#receiver = null;
      const error = this.#error;
      this.#error = null;
      return receiver.end(error);
    }
    this.#flow.resume();
  }

  /**
   * Takes every queued item at once, for a caller that stops reading
   * through `read()` (a runtime's own forwarding): what was queued, and
   * whether the end — `error`, or `null` for a clean one — came after it.
   */
  takeQueued(): { items: T[]; end: { error: unknown } | null } {
    const items = this.#queue;
    this.#queue = [];
    return { items, end: this.#done ? { error: this.#error } : null };
  }

  /** The next item, or `null` at the end. */
  read(): Promise<T | null> {
    if (this.#queue.length > 0) {
      const item = this.#queue.shift()!;
      if (this.#queue.length === 0 && !this.#done) this.#flow.resume();
      return Promise.resolve(item);
    }
    if (this.#done) {
      const error = this.#error;
      this.#error = null;
      return error === null ? Promise.resolve(null) : Promise.reject(error);
    }
    this.#flow.resume();
    return new Promise((resolve, reject) => {
      this.#waiter = { resolve, reject };
    });
  }
}

/**
 * Canonical host text of a socket address: IPv4-mapped IPv6 (as Node and
 * Bun report IPv4 peers on dual-stack sockets) becomes plain IPv4, and a
 * missing address (a socket already gone) becomes 0.0.0.0.
 */
export function hostOf(host: string | undefined): string {
  return host === undefined || host === ""
    ? "0.0.0.0"
    : toSocksAddress(host, 0).host;
}

/**
 * Bounds of a read buffer: the smallest keeps an idle connection cheap,
 * the largest a bulk transfer's syscalls few.
 */
export interface ReadSizes {
  min: number;
  max: number;
}

/**
 * The size of the next read buffer, after a read into `size` bytes took
 * `count`: double while reads fill it, up to `max`; after one that took
 * under a quarter, just enough for it (at least `min`), so a connection
 * idle after a burst does not keep its largest buffer waiting.
 */
export function nextReadSize(
  size: number,
  count: number,
  sizes: ReadSizes,
): number {
  if (count === size) return Math.min(size * 2, sizes.max);
  if (count >= size / 4) return size;
  let fit = sizes.min;
  while (fit < count) fit *= 2;
  return fit;
}
