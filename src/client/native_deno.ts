/**
 * `connectNative()` on Deno: a `Deno.Conn`. Deno reads into a buffer the
 * caller sizes, so every handshake read asks for exactly the bytes the
 * decoder still needs, which never reach past the message being decoded:
 * nothing of the tunnel is read, and nothing needs to be put back.
 *
 * @module
 */

import type { HostPort } from "../wire/address.ts";
import type { NativeOpening } from "./_native.ts";

/**
 * The slice of `Deno.Conn` the client uses and returns, declared here so
 * the file type-checks under tsc; a real `Deno.Conn` is what you get.
 *
 * @example
 * ```ts
 * import type { DenoConn } from "./native_deno.ts";
 * async function first(conn: DenoConn) {
 *   const buffer = new Uint8Array(1024);
 *   const count = await conn.read(buffer);
 *   return count === null ? null : buffer.subarray(0, count);
 * }
 * ```
 */
export interface DenoConn {
  /** This end's address. */
  readonly localAddr: { hostname: string; port: number; transport: string };
  /** The proxy's address. */
  readonly remoteAddr: { hostname: string; port: number; transport: string };
  /** Reads into `buffer`; the count, or `null` at EOF. */
  read(buffer: Uint8Array): Promise<number | null>;
  /** Writes some of `bytes`; the count written. */
  write(bytes: Uint8Array): Promise<number>;
  /** Sends FIN. */
  closeWrite(): Promise<void>;
  /** Closes the connection. */
  close(): void;
  /** The connection as web streams. */
  readonly readable: ReadableStream<Uint8Array>;
  /** The connection as web streams. */
  readonly writable: WritableStream<Uint8Array>;
}

interface DenoApi {
  connect(options: {
    hostname: string;
    port: number;
    transport: "tcp";
    signal?: AbortSignal;
  }): Promise<DenoConn>;
}

/**
 * Connects to `address` and wraps the conn for the handshake.
 *
 * @example
 * ```ts
 * import { openNative } from "./native_deno.ts";
 * const opening = await openNative(
 *   { host: "127.0.0.1", port: 1080 },
 *   AbortSignal.timeout(5000),
 * );
 * opening.destroy();
 * ```
 */
export async function openNative(
  address: HostPort,
  signal: AbortSignal,
): Promise<NativeOpening<DenoConn>> {
  const { Deno } = globalThis as unknown as { Deno: DenoApi };
  const conn = await Deno.connect({
    hostname: address.host,
    port: address.port,
    transport: "tcp",
    signal,
  });
  return {
    transport: {
      async read(needed) {
        // Exactly `needed`, never more: see the module doc.
        const buffer = new Uint8Array(needed);
        const count = await conn.read(buffer);
        return count === null ? null : buffer.subarray(0, count);
      },
      async write(bytes) {
        // Deno.Conn.write may take only part of the bytes.
        for (let done = 0; done < bytes.length;) {
          done += await conn.write(bytes.subarray(done));
        }
      },
    },
    finish(leftover) {
      if (leftover.length > 0) {
        conn.close();
        throw new Error(
          `Cannot hand over the Deno.Conn: ${leftover.length} bytes were read past the reply`,
        );
      }
      return conn;
    },
    destroy() {
      try {
        conn.close();
      } catch {
        // Already closed.
      }
    },
  };
}
