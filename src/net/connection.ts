/**
 * The contract between the runtime-neutral server and each runtime: what a
 * TCP connection, a listener and the network look like. Every runtime meets
 * it cheaply — read a chunk, write a chunk (awaiting backpressure),
 * half-close, close — so adapters stay thin.
 *
 * @module
 */

import type { HostPort } from "../wire/address.ts";

/**
 * One TCP connection, either accepted or dialled.
 *
 * @example
 * ```ts
 * import type { Connection } from "./connection.ts";
 * async function echo(conn: Connection): Promise<void> {
 *   for (let chunk = await conn.read(); chunk; chunk = await conn.read()) {
 *     await conn.write(chunk);
 *   }
 *   await conn.closeWrite();
 * }
 * ```
 */
export interface Connection {
  /** This end's address. */
  readonly localAddress: HostPort;
  /** The peer's address. */
  readonly remoteAddress: HostPort;
  /**
   * The next chunk, or `null` once the peer has half-closed (FIN). Rejects
   * on a reset. The chunk is the caller's to keep: adapters never reuse it.
   */
  read(): Promise<Uint8Array | null>;
  /**
   * Optional push reading, for a driver that reacts to bytes rather than
   * awaiting them: from now on each chunk goes to `receiver.data()` from
   * the runtime's own callback, with no promise per chunk, and the end to
   * `receiver.end()` once. `null` hands reading back to `read()`: chunks
   * that arrive meanwhile wait for it. Left out, `Receiving` (receive.ts)
   * reads in a loop instead.
   */
  receive?(receiver: Receiver | null): void;
  /** Queues bytes; resolves when the runtime can take more (backpressure). */
  write(bytes: Uint8Array): Promise<void>;
  /** Sends FIN after queued bytes; reading goes on. */
  closeWrite(): Promise<void>;
  /**
   * Optional fast path for the relay: forwards every chunk that arrives on
   * this connection straight to `to` from the runtime's own callbacks —
   * no promise per chunk — pausing while `to` cannot take more, and
   * half-closes `to` at this side's EOF. `null` when `to` is not of this
   * runtime's kind (use `read()` and `write()` then). The promise settles
   * at EOF or when either side closes, and rejects on a reset; `onChunk`
   * is told each chunk's size.
   */
  forwardTo?(
    to: Connection,
    onChunk: (size: number) => void,
  ): Promise<void> | null;
  /**
   * Closes both directions at once, dropping anything queued. Idempotent.
   * Afterwards `read()` gives `null` and writes are ignored, pending ones
   * included, so nothing waits on a closed connection.
   */
  close(): void;
}

/**
 * Where a connection pushes what it reads: see {@linkcode Connection.receive}.
 *
 * @example
 * ```ts
 * import type { Receiver } from "./connection.ts";
 * const chunks: Uint8Array[] = [];
 * const receiver: Receiver = {
 *   data: (chunk) => chunks.push(chunk),
 *   end: (error) => console.log(error === null ? "FIN" : "reset"),
 * };
 * ```
 */
export interface Receiver {
  /** The next chunk; the receiver's to keep. */
  data(chunk: Uint8Array): void;
  /** No more chunks: `null` after the peer's FIN, or the reset's error. */
  end(error: unknown): void;
}

/**
 * A listening TCP socket. A failed `accept()` rejects with the runtime's
 * error, its `code` (`EMFILE`, `ENFILE`...) kept, and leaves the listener
 * usable: the server decides how long to wait before the next call.
 *
 * @example
 * ```ts
 * import type { Listener } from "./connection.ts";
 * async function acceptOne(listener: Listener) {
 *   const conn = await listener.accept();
 *   conn?.close();
 * }
 * ```
 */
export interface Listener {
  /** The bound address, with the real port when 0 was asked for. */
  readonly address: HostPort;
  /** The next connection, or `null` once the listener is closed. */
  accept(): Promise<Connection | null>;
  /** Stops listening; pending and later `accept()` calls give `null`. */
  close(): void;
}

/**
 * Options of {@linkcode Network.listen}.
 *
 * @example
 * ```ts
 * import type { ListenOptions } from "./connection.ts";
 * const options: ListenOptions = { reusePort: true };
 * ```
 */
export interface ListenOptions {
  /** Set `SO_REUSEPORT`: one address, one listener per worker. */
  reusePort?: boolean;
}

/**
 * Options for dialling out.
 *
 * @example
 * ```ts
 * import type { DialOptions } from "./connection.ts";
 * const options: DialOptions = { host: "127.0.0.1", port: 80, signal: AbortSignal.timeout(1000) };
 * ```
 */
export interface DialOptions extends HostPort {
  /** Aborts the attempt; the promise then rejects. */
  signal?: AbortSignal;
}

/**
 * One UDP datagram and where it came from or goes to.
 *
 * @example
 * ```ts
 * import type { Datagram } from "./connection.ts";
 * const datagram: Datagram = { data: new Uint8Array([1]), host: "127.0.0.1", port: 53 };
 * ```
 */
export interface Datagram extends HostPort {
  /** The payload; the receiver's to keep. */
  data: Uint8Array;
}

/**
 * A bound UDP socket. Datagrams arrive through the callback given to
 * {@linkcode Network.bindUdp}; UDP has no backpressure, so what the
 * callback does not take is lost, as on the wire.
 *
 * @example
 * ```ts
 * import type { UdpSocket } from "./connection.ts";
 * function reply(socket: UdpSocket) {
 *   socket.send({ data: new Uint8Array([1]), host: "127.0.0.1", port: 5353 });
 * }
 * ```
 */
export interface UdpSocket {
  /** The bound address, with the real port. */
  readonly address: HostPort;
  /** Sends one datagram to an IP address; errors are dropped, as UDP's are. */
  send(datagram: Datagram): void;
  /** Stops receiving and frees the port. Idempotent. */
  close(): void;
}

/**
 * Everything the server needs from a runtime.
 *
 * @example
 * ```ts
 * import type { Network } from "./connection.ts";
 * async function dialFirst(net: Network, name: string) {
 *   const [host] = await net.lookup(name);
 *   return host === undefined ? null : net.connect({ host, port: 80 });
 * }
 * ```
 */
export interface Network {
  /**
   * `connect()` takes names too, the platform resolving them (Cloudflare
   * Workers): the client then dials a proxy named by host without
   * `lookup()`.
   */
  readonly resolvesOnConnect?: boolean;
  /**
   * Listens on a TCP address. Rejects with the runtime's error. With
   * `reusePort`, the socket sets `SO_REUSEPORT`, so listeners of several
   * threads share the address and the kernel spreads connections over them.
   */
  listen(address: HostPort, options?: ListenOptions): Promise<Listener>;
  /**
   * Dials an IP address (never a name, unless `resolvesOnConnect`).
   * Rejects with the runtime's error.
   */
  connect(options: DialOptions): Promise<Connection>;
  /** Resolves a name with the system resolver: IPv4 and IPv6 text. */
  lookup(name: string): Promise<string[]>;
  /** Binds a UDP socket on an IP address; port 0 picks a free one. */
  bindUdp(
    address: HostPort,
    onDatagram: (datagram: Datagram) => void,
  ): Promise<UdpSocket>;
  /**
   * The soft limit on open descriptors the process runs under, or `null`
   * when the runtime cannot tell. Left out: unknown.
   */
  descriptorLimit?(): Promise<number | null>;
}
