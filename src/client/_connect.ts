/**
 * CONNECT through a SOCKS5 proxy over whichever network the entry point
 * picks: the body of `connect()` for `edgesocks` and `edgesocks/edge`.
 *
 * @module
 */

import type { Network } from "../net/connection.ts";
import type { HostPort } from "../wire/address.ts";
import { Command } from "../wire/constants.ts";
import { deadline } from "./_abort.ts";
import { destinationOf, proxyOf } from "./_args.ts";
import { withLeftover } from "./negotiate.ts";
import {
  type ConnectOptions,
  DEFAULT_TIMEOUT,
  networkOf,
  type WithDefaultNetwork,
} from "./options.ts";
import { type SocksConnection, socksConnection } from "./socks_connection.ts";
import { openTunnel } from "./tunnel.ts";
import type { ProxyOptions } from "./url.ts";

/**
 * `connect()` with the network `options` give or default to.
 *
 * @example
 * ```ts
 * import { openConnect } from "./_connect.ts";
 * import { runtimeNetwork } from "../net/runtime_network.ts";
 * const tunnel = await openConnect("socks5h://127.0.0.1:1080", "example.com:80", {
 *   defaultNetwork: runtimeNetwork,
 * });
 * tunnel.close();
 * ```
 */
export async function openConnect(
  proxy: string | ProxyOptions,
  destination: string | HostPort,
  options: WithDefaultNetwork<ConnectOptions>,
): Promise<SocksConnection> {
  return await underDeadline(
    { proxy, destination, options },
    async ({ proxyOptions, target, network, signal }) => {
      const { connection, outcome } = await openTunnel(network, proxyOptions, {
        command: Command.Connect,
        destination: target,
        signal,
      });
      return socksConnection(
        withLeftover(connection, leftoverOf(outcome)),
        outcome.reply.bound,
      );
    },
  );
}

/**
 * What `connect()` and `connectNative()` share: the arguments made whole,
 * the network picked, and one deadline for the whole handshake.
 *
 * @example
 * ```ts
 * import { underDeadline } from "./_connect.ts";
 * import { runtimeNetwork } from "../net/runtime_network.ts";
 * const target = await underDeadline(
 *   {
 *     proxy: "socks5h://127.0.0.1:1080",
 *     destination: "example.com:80",
 *     options: { defaultNetwork: runtimeNetwork },
 *   },
 *   ({ target }) => Promise.resolve(target),
 * );
 * ```
 */
export async function underDeadline<T>(
  call: {
    proxy: string | ProxyOptions;
    destination: string | HostPort;
    options: WithDefaultNetwork<ConnectOptions>;
  },
  body: (context: {
    proxyOptions: ProxyOptions;
    target: HostPort;
    network: Network;
    signal: AbortSignal;
  }) => Promise<T>,
): Promise<T> {
  const { options } = call;
  const proxyOptions = proxyOf(call.proxy);
  const target = destinationOf(call.destination);
  const network = await networkOf(options);
  const limit = deadline(
    { signal: options.signal, timeout: options.timeout ?? DEFAULT_TIMEOUT },
    `the SOCKS5 handshake with ${proxyOptions.host}`,
  );
  try {
    return await body({ proxyOptions, target, network, signal: limit.signal });
  } finally {
    limit.clear();
  }
}

/**
 * The bytes after the proxy's CONNECT reply.
 *
 * @example
 * ```ts
 * import { leftoverOf } from "./_connect.ts";
 * console.log(leftoverOf({ type: "bound" }).length); // 0
 * ```
 */
export function leftoverOf(
  outcome: { type: "bound" } | { type: "established"; leftover: Uint8Array },
): Uint8Array {
  // CONNECT has one reply, so the outcome is always `established`.
  return outcome.type === "established" ? outcome.leftover : new Uint8Array(0);
}
