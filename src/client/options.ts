/**
 * What every client call takes besides the proxy and the destination, and
 * how a call finds its network: the caller's `network`, else one over the
 * caller's `dial`, else the running runtime's.
 *
 * @module
 */

import type { Network } from "../net/connection.ts";
import { dialOnlyNetwork, type StreamDial } from "../net/stream_connection.ts";

/**
 * Options of {@linkcode connect} and the other client calls.
 *
 * @example
 * ```ts
 * import type { ConnectOptions } from "./options.ts";
 * const options: ConnectOptions = { timeout: 5_000 };
 * ```
 */
export interface ConnectOptions {
  /** Gives up at once; what was opened is closed. */
  signal?: AbortSignal;
  /**
   * Milliseconds for reaching the proxy and its reply together; default
   * 30 000.
   */
  timeout?: number;
  /** The network to use; default: the running runtime's. */
  network?: Network;
  /**
   * Opens a TCP connection as web streams (`{ readable, writable,
   * close() }`), for a runtime edgesocks does not know: the call then
   * needs nothing else from it. Proxy names go to `dial` as they are; use
   * `socks5h://` so the proxy resolves destinations. `network` wins if
   * both are given.
   */
  dial?: StreamDial;
}

/**
 * How long reaching the proxy and its reply may take, in ms, unless the
 * caller says otherwise.
 *
 * @example
 * ```ts
 * import { DEFAULT_TIMEOUT } from "./options.ts";
 * console.log(DEFAULT_TIMEOUT); // 30000
 * ```
 */
export const DEFAULT_TIMEOUT = 30_000;

/**
 * Options with the network to use when the caller names none: the entry
 * point's (the runtime's for `edgesocks`, the Worker's for
 * `edgesocks/edge`).
 *
 * @example
 * ```ts
 * import type { WithDefaultNetwork } from "./options.ts";
 * import type { Network } from "../net/connection.ts";
 * function withNetwork(network: Network): WithDefaultNetwork<{ timeout: number }> {
 *   return { timeout: 1000, defaultNetwork: () => Promise.resolve(network) };
 * }
 * ```
 */
export type WithDefaultNetwork<T> = T & {
  defaultNetwork: () => Promise<Network>;
};

/**
 * The network a call uses.
 *
 * @example
 * ```ts
 * import { networkOf } from "./options.ts";
 * const network = await networkOf({
 *   dial: () => Promise.reject(new Error("no sockets here")),
 *   defaultNetwork: () => Promise.reject(new Error("unused")),
 * });
 * console.log(network.resolvesOnConnect); // true
 * ```
 */
export async function networkOf(
  options: WithDefaultNetwork<ConnectOptions>,
): Promise<Network> {
  if (options.network !== undefined) return options.network;
  if (options.dial !== undefined) {
    return dialOnlyNetwork(options.dial, "a network given as { dial }");
  }
  return await options.defaultNetwork();
}
