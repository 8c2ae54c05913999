/**
 * In-memory {@linkcode Connection} pairs for driver tests: deterministic, no
 * sockets, with the backpressure and close semantics of the contract in
 * `src/connection.ts`, and bounded waits so a test that would hang fails.
 *
 * @module
 */

import type { Connection } from "../../src/net/connection.ts";
import type { HostPort } from "../../src/wire/address.ts";

/** Options of {@linkcode memoryPair}. */
export interface MemoryPairOptions {
  /** Address of the first end (the second end's remote address). */
  a?: HostPort;
  /** Address of the second end (the first end's remote address). */
  b?: HostPort;
  /**
   * Chunks a writer may have unread before `write()` waits for the reader,
   * per direction: 0 (default) means every write resolves only once the
   * peer has read that chunk.
   */
  buffer?: number;
}

interface Queued {
  bytes: Uint8Array;
  accepted: boolean;
  resolve: () => void;
}

// One direction: what one end writes and the other reads.
class Pipe {
  readonly #buffer: number;
  #queue: Queued[] = [];
  #waiter: {
    resolve: (chunk: Uint8Array | null) => void;
    reject: (error: unknown) => void;
  } | null = null;
  // FIN queued behind the data, or the reader has gone.
  #ended = false;
  #readerGone = false;
  #error: unknown = null;

  constructor(buffer: number) {
    this.#buffer = buffer;
  }

  get unread(): number {
    return this.#queue.length;
  }

  write(bytes: Uint8Array): Promise<void> {
    // A copy, as a kernel takes one: the writer may reuse its buffer.
    const chunk = bytes.slice();
    if (this.#readerGone) return Promise.resolve();
    const waiter = this.#waiter;
    if (waiter !== null) {
      this.#waiter = null;
      waiter.resolve(chunk);
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const accepted = this.#queue.length < this.#buffer;
      this.#queue.push({ bytes: chunk, accepted, resolve });
      if (accepted) resolve();
    });
  }

  read(): Promise<Uint8Array | null> {
    if (this.#readerGone) return Promise.resolve(null);
    const next = this.#queue.shift();
    if (next !== undefined) {
      next.resolve();
      // The chunk that now fits in the buffer is accepted.
      const waiting = this.#queue[this.#buffer - 1];
      if (waiting !== undefined && !waiting.accepted) {
        waiting.accepted = true;
        waiting.resolve();
      }
      return Promise.resolve(next.bytes);
    }
    if (this.#error !== null) {
      const error = this.#error;
      this.#error = null;
      return Promise.reject(error);
    }
    if (this.#ended) return Promise.resolve(null);
    if (this.#waiter !== null) {
      return Promise.reject(new Error("Cannot read: a read is pending"));
    }
    return new Promise((resolve, reject) => {
      this.#waiter = { resolve, reject };
    });
  }

  // The writer half-closes: FIN after the queued bytes.
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#wake();
  }

  // The writer closes: bytes whose write has not resolved are dropped, as
  // a runtime drops its own queue; accepted ones were "in the kernel".
  abort(error: unknown): void {
    for (const queued of this.#queue) if (!queued.accepted) queued.resolve();
    this.#queue = this.#queue.filter((queued) => queued.accepted);
    this.#ended = true;
    if (error !== null) {
      this.#queue = [];
      this.#error = error;
    }
    this.#wake();
  }

  // The reader closes: pending and later reads give null, writes vanish.
  readerGone(): void {
    this.#readerGone = true;
    for (const queued of this.#queue) queued.resolve();
    this.#queue = [];
    this.#error = null;
    this.#wake();
  }

  #wake(): void {
    const waiter = this.#waiter;
    if (waiter === null) return;
    if (this.#queue.length > 0 && !this.#readerGone) return;
    this.#waiter = null;
    if (this.#error !== null && !this.#readerGone) {
      const error = this.#error;
      this.#error = null;
      waiter.reject(error);
    } else {
      waiter.resolve(null);
    }
  }
}

/**
 * One end of a {@linkcode memoryPair}, with counters for assertions.
 */
export class MemoryConnection implements Connection {
  readonly localAddress: HostPort;
  readonly remoteAddress: HostPort;
  /** Chunks `read()` has returned. */
  reads = 0;
  /** Bytes `read()` has returned. */
  bytesRead = 0;
  /** Calls of `write()`. */
  writes = 0;
  /** `closeWrite()` was called. */
  writeClosed = false;
  /** `close()` or `reset()` was called. */
  closed = false;
  readonly #in: Pipe;
  readonly #out: Pipe;

  constructor(
    addresses: { local: HostPort; remote: HostPort },
    pipes: { in: Pipe; out: Pipe },
  ) {
    this.localAddress = addresses.local;
    this.remoteAddress = addresses.remote;
    this.#in = pipes.in;
    this.#out = pipes.out;
  }

  /** Chunks this end wrote that the peer has not read yet. */
  get unread(): number {
    return this.#out.unread;
  }

  async read(): Promise<Uint8Array | null> {
    const chunk = await this.#in.read();
    if (chunk !== null) {
      this.reads++;
      this.bytesRead += chunk.length;
    }
    return chunk;
  }

  write(bytes: Uint8Array): Promise<void> {
    this.writes++;
    if (this.closed) return Promise.resolve();
    if (this.writeClosed) {
      return Promise.reject(new Error("Cannot write: closeWrite() was called"));
    }
    return this.#out.write(bytes);
  }

  closeWrite(): Promise<void> {
    this.writeClosed = true;
    if (!this.closed) this.#out.end();
    return Promise.resolve();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.#out.abort(null);
    this.#in.readerGone();
  }

  /**
   * Closes this end as a reset: the peer's next read rejects with `error`
   * (once), then gives `null`.
   */
  reset(error: unknown = resetError()): void {
    if (this.closed) return;
    this.closed = true;
    this.#out.abort(error);
    this.#in.readerGone();
  }
}

/** An error like the one a runtime gives for a reset connection. */
export function resetError(): Error {
  return Object.assign(new Error("Connection reset by peer"), {
    code: "ECONNRESET",
  });
}

/**
 * Two connected ends. What one writes the other reads; `closeWrite()` is
 * EOF (`null`) for the peer once it has read what came before; `close()`
 * makes this end's reads give `null`, ignores its writes and drops what the
 * peer has not taken yet.
 */
export function memoryPair(
  options: MemoryPairOptions = {},
): [MemoryConnection, MemoryConnection] {
  const a = options.a ?? { host: "127.0.0.1", port: 50000 };
  const b = options.b ?? { host: "127.0.0.1", port: 1080 };
  const buffer = options.buffer ?? 0;
  const ab = new Pipe(buffer);
  const ba = new Pipe(buffer);
  return [
    new MemoryConnection({ local: a, remote: b }, { in: ba, out: ab }),
    new MemoryConnection({ local: b, remote: a }, { in: ab, out: ba }),
  ];
}

/**
 * `promise`, or a rejection naming `what` after `ms`: a test never waits on
 * a promise that may not settle (Node 20 cancels the whole file).
 */
export function within<T>(
  promise: Promise<T>,
  ms: number,
  what = "the operation",
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`Timed out after ${ms} ms waiting for ${what}`)),
      ms,
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `probe` until it gives something other than `undefined`. */
export async function waitFor<T>(
  probe: () => T | undefined,
  ms = 1000,
  what = "a condition",
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) {
      throw new Error(`Timed out after ${ms} ms waiting for ${what}`);
    }
    await sleep(2);
  }
}

/** Reads exactly `count` bytes (fewer only if EOF comes first). */
export async function readBytes(
  conn: Connection,
  count: number,
  ms = 1000,
): Promise<number[]> {
  const out: number[] = [];
  while (out.length < count) {
    const chunk = await within(conn.read(), ms, `${count} bytes`);
    if (chunk === null) break;
    out.push(...chunk);
  }
  return out;
}

/** Reads until EOF and returns every byte. */
export async function readToEnd(
  conn: Connection,
  ms = 1000,
): Promise<number[]> {
  const out: number[] = [];
  for (;;) {
    const chunk = await within(conn.read(), ms, "EOF");
    if (chunk === null) return out;
    out.push(...chunk);
  }
}

/** Bytes from byte values, lists of them, and UTF-8 text. */
export function bytes(
  ...parts: Array<number | readonly number[] | string | Uint8Array>
): Uint8Array {
  const out: number[] = [];
  const encoder = new TextEncoder();
  for (const part of parts) {
    if (typeof part === "number") out.push(part);
    else if (typeof part === "string") out.push(...encoder.encode(part));
    else out.push(...part);
  }
  return new Uint8Array(out);
}

/**
 * Reads a connection as a byte stream, keeping what one chunk carries
 * beyond what was asked for, with every wait bounded.
 */
export class ByteReader {
  readonly #conn: Connection;
  #held: number[] = [];
  #eof = false;

  constructor(conn: Connection) {
    this.#conn = conn;
  }

  /** Exactly `count` bytes, or fewer if EOF comes first. */
  async bytes(count: number, ms = 1000): Promise<number[]> {
    while (this.#held.length < count && !this.#eof) await this.#fill(ms);
    return this.#held.splice(0, count);
  }

  /** Everything up to EOF. */
  async toEnd(ms = 1000): Promise<number[]> {
    while (!this.#eof) await this.#fill(ms);
    return this.#held.splice(0);
  }

  async #fill(ms: number): Promise<void> {
    const chunk = await within(this.#conn.read(), ms, "bytes to read");
    if (chunk === null) this.#eof = true;
    else this.#held.push(...chunk);
  }
}
