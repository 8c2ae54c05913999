/**
 * What each runtime's native-socket file gives `connectNative()`: a socket
 * to the proxy behind a {@linkcode HandshakeTransport}, then the socket
 * itself, with the bytes read past the reply put back.
 *
 * @module
 */

import type { HostPort } from "../wire/address.ts";
import type { HandshakeTransport } from "./negotiate.ts";

/**
 * A socket to the proxy during its handshake.
 *
 * @example
 * ```ts
 * import type { NativeOpening } from "./_native.ts";
 * function handOver<T>(opening: NativeOpening<T>): T {
 *   return opening.finish(new Uint8Array(0));
 * }
 * ```
 */
export interface NativeOpening<T> {
  /** Reads and writes for the handshake. */
  transport: HandshakeTransport;
  /**
   * Ends the handshake's hold on the socket and hands it over, `leftover`
   * first in line for its reader.
   */
  finish(leftover: Uint8Array): T;
  /** Closes the socket (the handshake failed or was aborted). */
  destroy(): void;
}

/**
 * Opens a runtime socket to `address`; rejects with the runtime's error.
 *
 * @example
 * ```ts
 * import type { OpenNative } from "./_native.ts";
 * async function reach<T>(open: OpenNative<T>) {
 *   const opening = await open({ host: "127.0.0.1", port: 1080 }, AbortSignal.timeout(5000));
 *   opening.destroy();
 * }
 * ```
 */
export type OpenNative<T> = (
  address: HostPort,
  signal: AbortSignal,
) => Promise<NativeOpening<T>>;
