/**
 * A TCP socket for byte-level assertions: write exact bytes, read exactly
 * `n` bytes or everything up to the peer's FIN, every wait bounded. It is
 * half-open (`allowHalfOpen`), so a FIN from the peer leaves this side able
 * to write, and `end()` sends this side's FIN while reading goes on.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import * as net from "node:net";
import { withTimeout } from "./with_timeout.ts";

/**
 * Opens a TCP connection and waits for it, at most `ms`; a failure
 * destroys the socket and rejects with `what` in the message.
 */
export async function openSocket(
  options: net.TcpNetConnectOpts,
  what = `connecting to ${options.host}:${options.port}`,
  ms = 5_000,
): Promise<net.Socket> {
  const socket = net.connect(options);
  try {
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        socket.once("connect", resolve);
        socket.once("error", reject);
      }),
      ms,
      what,
    );
  } catch (error) {
    socket.destroy();
    throw error;
  }
  socket.removeAllListeners("error");
  return socket;
}

/** How the peer's side ended: FIN (`error: null`), or a reset. */
export interface Ending {
  /** The socket error, e.g. ECONNRESET; `null` for a clean FIN or close. */
  error: Error | null;
}

/**
 * Formats bytes as spaced hex, for assertion messages.
 *
 * @example
 * ```ts
 * import { hex } from "./raw_socket.ts";
 * console.log(hex(new Uint8Array([5, 0]))); // "05 00"
 * ```
 */
export function hex(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join(" ");
}

/**
 * One socket with a receive buffer.
 *
 * @example
 * ```ts
 * import { RawSocket } from "./raw_socket.ts";
 * async function hello(port: number) {
 *   const raw = await RawSocket.connect("127.0.0.1", port);
 *   await raw.write(new Uint8Array([5, 1, 0]));
 *   console.log(await raw.read(2)); // Uint8Array(2) [ 5, 0 ]
 *   raw.destroy();
 * }
 * ```
 */
export class RawSocket {
  /** The underlying socket. */
  readonly socket: net.Socket;
  /** This end's port, noted at once: some runtimes forget it on close. */
  readonly localPort: number;
  #chunks: Uint8Array[] = [];
  #buffered = 0;
  #received = 0;
  #ending: Ending | null = null;
  #wake: (() => void)[] = [];
  #sink: ((chunk: Uint8Array) => void) | null = null;

  /** Wraps a connected socket; it must not have been read from yet. */
  constructor(socket: net.Socket) {
    this.socket = socket;
    this.localPort = socket.localPort ?? 0;
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => {
      const bytes = new Uint8Array(
        chunk.buffer,
        chunk.byteOffset,
        chunk.length,
      );
      this.#received += bytes.length;
      if (this.#sink !== null) this.#sink(bytes);
      else {
        this.#chunks.push(bytes);
        this.#buffered += bytes.length;
      }
      this.#notify();
    });
    socket.on("end", () => this.#finish(null));
    socket.on("error", (error) => this.#finish(error));
    socket.on("close", () => this.#finish(null));
    // A socket handed over paused (the socks client does that) stays paused
    // on a new "data" listener; reading is what this class is for.
    socket.resume();
  }

  /** Connects to `host:port`, half-open. */
  static async connect(
    host: string,
    port: number,
    ms = 5_000,
  ): Promise<RawSocket> {
    return new RawSocket(
      await openSocket(
        { host, port, allowHalfOpen: true },
        `connecting to ${host}:${port}`,
        ms,
      ),
    );
  }

  /** Bytes received so far, read or not. */
  get received(): number {
    return this.#received;
  }

  /** How the peer ended, or `null` while it is still open. */
  get ending(): Ending | null {
    return this.#ending;
  }

  /** Writes bytes; resolves once the runtime has taken them. */
  write(bytes: Uint8Array | string, ms = 10_000): Promise<void> {
    return withTimeout(
      new Promise((resolve, reject) => {
        this.socket.write(bytes, (error) => error ? reject(error) : resolve());
      }),
      ms,
      `writing ${bytes.length} bytes`,
    );
  }

  /** Sends FIN after what is queued; reading goes on. */
  end(ms = 10_000): Promise<void> {
    return withTimeout(
      new Promise((resolve) => this.socket.end(() => resolve())),
      ms,
      "sending FIN",
    );
  }

  /** Closes at once. */
  destroy(): void {
    this.socket.destroy();
  }

  /** Exactly `n` bytes; rejects if the peer ends first or after `ms`. */
  read(n: number, ms = 5_000): Promise<Uint8Array> {
    return this.#waitFor(
      () => {
        if (this.#buffered >= n) return this.#take(n);
        if (this.#ending !== null) {
          throw new Error(
            `Connection ended after ${this.#buffered} of ${n} bytes (${
              hex(this.#peek())
            })${this.#ending.error ? `: ${this.#ending.error.message}` : ""}`,
          );
        }
        return undefined;
      },
      ms,
      `reading ${n} bytes (have ${this.#buffered})`,
    );
  }

  /**
   * Everything up to the peer's FIN. Rejects on a reset: a peer that
   * resets may have dropped bytes it had sent.
   */
  readToEnd(ms = 5_000): Promise<Uint8Array> {
    return this.#waitFor(
      () => {
        if (this.#ending === null) return undefined;
        if (this.#ending.error !== null) {
          throw new Error(
            `Connection reset after ${this.#received} bytes: ${this.#ending.error.message}`,
          );
        }
        return this.#take(this.#buffered);
      },
      ms,
      "reading to the end",
    );
  }

  /** Waits for the peer's FIN, a reset or a close. */
  ended(ms = 5_000): Promise<Ending> {
    return this.#waitFor(
      () => this.#ending ?? undefined,
      ms,
      "the connection to end",
    );
  }

  /** From now on hands every chunk to `sink` (buffered ones first). */
  stream(sink: (chunk: Uint8Array) => void): void {
    const buffered = this.#take(this.#buffered);
    if (buffered.length > 0) sink(buffered);
    this.#sink = sink;
  }

  #peek(): Uint8Array {
    return Buffer.concat(this.#chunks);
  }

  #take(n: number): Uint8Array {
    const all = Buffer.concat(this.#chunks, this.#buffered);
    const taken = new Uint8Array(all.subarray(0, n));
    this.#chunks = n < all.length ? [all.subarray(n)] : [];
    this.#buffered -= n;
    return taken;
  }

  #finish(error: Error | null): void {
    this.#ending ??= { error };
    this.#notify();
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = [];
    for (const resolve of wake) resolve();
  }

  // Re-checks after every event until `check` gives a value; bounded by
  // the deadline, not by a count, since events arrive in arbitrary chunks.
  async #waitFor<T>(
    check: () => T | undefined,
    ms: number,
    what: string,
  ): Promise<T> {
    const deadline = Date.now() + ms;
    for (;;) {
      const value = check();
      if (value !== undefined) return value;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`Timed out after ${ms} ms: ${what}`);
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#wake.push(resolve);
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
    }
  }
}
