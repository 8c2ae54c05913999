/**
 * A {@linkcode Connection} over a pair of web streams, and a client-only
 * {@linkcode Network} over a function that dials them: what a runtime we
 * have no adapter for can give the client (`cloudflare:sockets`,
 * `Deno.Conn`, a WebSocket bridge…) without implementing the whole
 * contract.
 *
 * The stream types are declared structurally, as far as the code uses
 * them, so the core type-checks without the DOM's or a runtime's types.
 *
 * @module
 */

import type { HostPort } from "../wire/address.ts";
import type { Connection, DialOptions, Network } from "./connection.ts";

/**
 * The part of a `ReadableStreamDefaultReader` the connection uses.
 *
 * @example
 * ```ts
 * import type { ChunkReader } from "./stream_connection.ts";
 * const reader: ChunkReader = new ReadableStream<Uint8Array>().getReader();
 * ```
 */
export interface ChunkReader {
  /** The next chunk, or `done` at the end. */
  read(): Promise<{ done: boolean; value?: Uint8Array | undefined }>;
  /** Stops reading and discards what is queued. */
  cancel(reason?: unknown): Promise<void>;
}

/**
 * The part of a `WritableStreamDefaultWriter` the connection uses.
 *
 * @example
 * ```ts
 * import type { ChunkWriter } from "./stream_connection.ts";
 * const writer: ChunkWriter = new WritableStream<Uint8Array>().getWriter();
 * ```
 */
export interface ChunkWriter {
  /** Writes one chunk; settles once the sink took it. */
  write(chunk: Uint8Array): Promise<void>;
  /** Closes after what is queued (for a socket: half-close). */
  close(): Promise<void>;
  /** Closes at once, dropping what is queued. */
  abort(reason?: unknown): Promise<void>;
}

/**
 * A socket as web streams: the shape of a `cloudflare:sockets` `Socket`
 * and of a `Deno.Conn`.
 *
 * @example
 * ```ts
 * import type { StreamSocket } from "./stream_connection.ts";
 * function stop(socket: StreamSocket) {
 *   socket.close?.();
 * }
 * ```
 */
export interface StreamSocket {
  /** Bytes from the peer. */
  readonly readable: { getReader(): ChunkReader };
  /** Bytes to the peer; closing it half-closes. */
  readonly writable: { getWriter(): ChunkWriter };
  /** Closes the socket; called once, by `close()` of the connection. */
  close?(): unknown;
}

/**
 * Dials `host:port` (an IP address, or a name when the platform resolves
 * names itself) and resolves once the socket is open; rejects with the
 * platform's error.
 *
 * @example
 * ```ts
 * import type { StreamDial } from "./stream_connection.ts";
 * const refuse: StreamDial = (address) =>
 *   Promise.reject(new Error(`Cannot dial ${address.host}`));
 * ```
 */
export type StreamDial = (address: DialOptions) => Promise<StreamSocket>;

/**
 * Wraps an open {@linkcode StreamSocket} as a {@linkcode Connection}.
 * `localAddress` is unknown to a stream and reported as `0.0.0.0:0`.
 *
 * @example
 * ```ts
 * import { streamConnection, type StreamSocket } from "./stream_connection.ts";
 * function wrap(socket: StreamSocket) {
 *   return streamConnection(socket, { host: "127.0.0.1", port: 1080 });
 * }
 * ```
 */
export function streamConnection(
  socket: StreamSocket,
  remoteAddress: HostPort,
): Connection {
  const reader = socket.readable.getReader();
  const writer = socket.writable.getWriter();
  let closed = false;
  return {
    localAddress: { host: "0.0.0.0", port: 0 },
    remoteAddress,
    async read() {
      if (closed) return null;
      try {
        const { done, value } = await reader.read();
        return done || closed || value === undefined ? null : value;
      } catch (error) {
        if (closed) return null;
        throw error;
      }
    },
    async write(bytes) {
      if (closed) return;
      try {
        await writer.write(bytes);
      } catch (error) {
        // Writes pending at close() are dropped, as the contract says.
        if (!closed) throw error;
      }
    },
    async closeWrite() {
      if (!closed) await writer.close();
    },
    close() {
      if (closed) return;
      closed = true;
      reader.cancel().catch(() => {});
      writer.abort().catch(() => {});
      try {
        socket.close?.();
      } catch {
        // Already closed by the peer.
      }
    },
  };
}

/**
 * A {@linkcode Network} that can only dial out, through `dial`: what the
 * client needs for CONNECT and BIND. `listen()`, `bindUdp()` and
 * `lookup()` reject with an error that names `platform` and says why;
 * proxy names go to `dial` as they are (`resolvesOnConnect`).
 *
 * @example
 * ```ts
 * import { dialOnlyNetwork } from "./stream_connection.ts";
 * const network = dialOnlyNetwork(
 *   (address) => Promise.reject(new Error(`Cannot dial ${address.host}`)),
 *   "this runtime",
 * );
 * await network.listen({ host: "127.0.0.1", port: 0 }).catch(console.log);
 * ```
 */
export function dialOnlyNetwork(dial: StreamDial, platform: string): Network {
  const cannot = (what: string, instead: string) =>
    Promise.reject(new Error(`Cannot ${what} on ${platform}: ${instead}`));
  return {
    resolvesOnConnect: true,
    async connect(options) {
      const { signal } = options;
      signal?.throwIfAborted();
      const dialling = dial(options);
      // A dial function may not watch the signal (cloudflare:sockets does
      // not take one): give up here, and close what opens after all.
      const socket = await new Promise<StreamSocket>((resolve, reject) => {
        const onAbort = () => {
          reject(signal!.reason);
          dialling.then((late) => late.close?.(), () => {});
        };
        signal?.addEventListener("abort", onAbort, { once: true });
        dialling.then(resolve, reject).finally(() =>
          signal?.removeEventListener("abort", onAbort)
        );
      });
      if (signal?.aborted) {
        socket.close?.();
        signal.throwIfAborted();
      }
      return streamConnection(socket, {
        host: options.host,
        port: options.port,
      });
    },
    listen: () =>
      cannot(
        "listen for connections",
        "it can only open outbound TCP connections; run the server on Deno, Bun or Node",
      ),
    bindUdp: () =>
      cannot(
        "bind a UDP socket",
        "it can only open outbound TCP connections, so UDP ASSOCIATE cannot work there",
      ),
    lookup: (name) =>
      cannot(
        `resolve ${name}`,
        "it has no resolver; use a socks5h:// proxy URL so the proxy resolves destination names",
      ),
  };
}
