/**
 * A tunnel through a proxy as the client hands it out: the runtime-neutral
 * {@linkcode Connection}, and web streams over it.
 *
 * @module
 */

import type { Connection } from "../net/connection.ts";
import type { SocksAddress } from "../wire/address.ts";

/**
 * An open tunnel through a SOCKS5 proxy. Read and write through either
 * `connection` or the streams, not both: they share one socket.
 *
 * @example
 * ```ts
 * import type { SocksConnection } from "./socks_connection.ts";
 * async function hello(tunnel: SocksConnection) {
 *   const writer = tunnel.writable.getWriter();
 *   await writer.write(new TextEncoder().encode("hello"));
 *   await writer.close(); // half-close: the reply can still be read
 *   for await (const chunk of tunnel.readable) console.log(chunk.length);
 * }
 * ```
 */
export interface SocksConnection {
  /**
   * The tunnel as a {@linkcode Connection}: its first read returns any
   * bytes that arrived with the proxy's reply.
   */
  readonly connection: Connection;
  /**
   * What the destination sends, one chunk per read; created on first use
   * and read only on demand (backpressure). Cancelling it closes the
   * tunnel.
   */
  readonly readable: ReadableStream<Uint8Array>;
  /**
   * Bytes to the destination; each write waits until the socket takes it.
   * `close()` half-closes (FIN; reading goes on), `abort()` closes.
   */
  readonly writable: WritableStream<Uint8Array>;
  /**
   * BND of the final reply: for CONNECT the address the proxy connected
   * from; for BIND the peer that connected.
   */
  readonly bound: SocksAddress;
  /** Closes the tunnel at once. Idempotent. */
  close(): void;
}

/**
 * Wraps a connected tunnel.
 *
 * @example
 * ```ts
 * import type { Connection } from "../net/connection.ts";
 * import { socksConnection } from "./socks_connection.ts";
 * function wrap(conn: Connection) {
 *   return socksConnection(conn, { type: 1, host: "127.0.0.1", port: 40000 });
 * }
 * ```
 */
export function socksConnection(
  connection: Connection,
  bound: SocksAddress,
): SocksConnection {
  let readable: ReadableStream<Uint8Array> | undefined;
  let writable: WritableStream<Uint8Array> | undefined;
  return {
    connection,
    bound,
    // Made on first use: a stream pulls as soon as it exists, and would
    // take chunks from a caller reading `connection` instead.
    get readable() {
      return readable ??= readableOf(connection);
    },
    get writable() {
      return writable ??= writableOf(connection);
    },
    close: () => connection.close(),
  };
}

function readableOf(connection: Connection): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const chunk = await connection.read();
      if (chunk === null) controller.close();
      else controller.enqueue(chunk);
    },
    cancel() {
      connection.close();
    },
    // Nothing is read ahead of the reader: a slow reader slows the sender.
  }, { highWaterMark: 0 });
}

function writableOf(connection: Connection): WritableStream<Uint8Array> {
  return new WritableStream<Uint8Array>({
    write: (chunk) => connection.write(chunk),
    close: () => connection.closeWrite(),
    abort() {
      connection.close();
    },
  });
}
