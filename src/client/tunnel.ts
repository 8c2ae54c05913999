/**
 * Opening a request through a proxy over any {@linkcode Network}: dial the
 * proxy, run the handshake, stop at the first reply. `connect()`, `bind()`,
 * `udpAssociate()` and the server's upstream chaining all start here.
 *
 * @module
 */

import type { Connection, Network } from "../net/connection.ts";
import {
  formatHostPort,
  type HostPort,
  type SocksAddress,
  toSocksAddress,
} from "../wire/address.ts";
import { AddressType, type Command } from "../wire/constants.ts";
import { untilAborted } from "./_abort.ts";
import { ClientHandshake } from "./handshake.ts";
import {
  connectionTransport,
  type HandshakeOutcome,
  negotiate,
} from "./negotiate.ts";
import type { ProxyOptions } from "./url.ts";

/**
 * What to ask the proxy for.
 *
 * @example
 * ```ts
 * import type { TunnelRequest } from "./tunnel.ts";
 * const request: TunnelRequest = {
 *   command: 0x01,
 *   destination: { host: "example.com", port: 443 },
 * };
 * ```
 */
export interface TunnelRequest {
  /** CONNECT, BIND or UDP ASSOCIATE. */
  command: Command;
  /** DST: an IP address or a name (resolved here for `resolve: "local"`). */
  destination: HostPort;
  /** Gives up at once; the connection to the proxy is closed. */
  signal?: AbortSignal | undefined;
}

/**
 * A request the proxy has answered with success.
 *
 * @example
 * ```ts
 * import type { Tunnel } from "./tunnel.ts";
 * function bound(tunnel: Tunnel) {
 *   return tunnel.outcome.reply.bound;
 * }
 * ```
 */
export interface Tunnel {
  /** The connection to the proxy, not yet read past the reply. */
  connection: Connection;
  /** The handshake, for BIND's second reply. */
  handshake: ClientHandshake;
  /** `established` (with leftover bytes), or `bound` for BIND. */
  outcome: HandshakeOutcome;
}

/**
 * Dials the proxy, sends `request` and waits for the first reply. On any
 * failure the connection is closed and the error rethrown: a
 * `SocksReplyError`, `SocksAuthError` or `SocksProtocolError` from the
 * proxy, the runtime's error when the proxy cannot be reached, or the
 * signal's reason.
 *
 * @example
 * ```ts
 * import type { Network } from "../net/connection.ts";
 * import { openTunnel } from "./tunnel.ts";
 * async function open(network: Network) {
 *   const tunnel = await openTunnel(network, { host: "127.0.0.1", port: 1080 }, {
 *     command: 0x01,
 *     destination: { host: "example.com", port: 80 },
 *   });
 *   tunnel.connection.close();
 * }
 * ```
 */
export async function openTunnel(
  network: Network,
  proxy: ProxyOptions,
  request: TunnelRequest,
): Promise<Tunnel> {
  const { signal } = request;
  const destination = await requestAddress(network, proxy, {
    ...request.destination,
    signal,
  });
  const handshake = new ClientHandshake({
    command: request.command,
    destination,
    ...(proxy.credentials ? { credentials: proxy.credentials } : {}),
  });
  const connection = await dialProxy(network, proxy, { signal });
  try {
    const outcome = await negotiate(
      connectionTransport(connection),
      handshake,
      {
        ...(signal ? { signal } : {}),
      },
    );
    return { connection, handshake, outcome };
  } catch (error) {
    connection.close();
    throw error;
  }
}

/**
 * DST of a request: a name as it is when the proxy resolves names, else
 * the first address the network's resolver gives.
 *
 * @throws {Error} When a name to resolve locally has no addresses.
 *
 * @example
 * ```ts
 * import type { Network } from "../net/connection.ts";
 * import { requestAddress } from "./tunnel.ts";
 * async function dst(network: Network) {
 *   const proxy = { host: "127.0.0.1", port: 1080, resolve: "local" as const };
 *   return await requestAddress(network, proxy, { host: "localhost", port: 80 });
 * }
 * ```
 */
export async function requestAddress(
  network: Network,
  proxy: ProxyOptions,
  destination: HostPort & { signal?: AbortSignal | undefined },
): Promise<SocksAddress> {
  const address = toSocksAddress(destination.host, destination.port);
  if (address.type !== AddressType.Domain || proxy.resolve !== "local") {
    return address;
  }
  const found = await untilAborted(
    network.lookup(destination.host),
    destination.signal,
  );
  const first = found[0];
  if (first === undefined) {
    throw new Error(`Cannot resolve ${destination.host}: it has no addresses`);
  }
  return toSocksAddress(first, destination.port);
}

/**
 * Connects to the proxy, resolving its name first (unless the network
 * resolves names as it connects); each address is tried in the resolver's
 * order until one connects.
 *
 * @example
 * ```ts
 * import type { Network } from "../net/connection.ts";
 * import { dialProxy } from "./tunnel.ts";
 * async function reach(network: Network) {
 *   const conn = await dialProxy(network, { host: "localhost", port: 1080 });
 *   conn.close();
 * }
 * ```
 */
export async function dialProxy(
  network: Network,
  proxy: HostPort,
  options: { signal?: AbortSignal | undefined } = {},
): Promise<Connection> {
  const { signal } = options;
  signal?.throwIfAborted();
  const { port } = proxy;
  const isName = toSocksAddress(proxy.host, port).type === AddressType.Domain;
  const addresses = isName && !network.resolvesOnConnect
    ? await untilAborted(network.lookup(proxy.host), signal)
    : [proxy.host];
  if (addresses.length === 0) {
    throw new Error(
      `Cannot reach SOCKS5 proxy ${formatHostPort(proxy)}: it has no addresses`,
    );
  }
  let lastError: unknown;
  for (const host of addresses) {
    signal?.throwIfAborted();
    try {
      return await network.connect({
        host,
        port,
        ...(signal ? { signal } : {}),
      });
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError;
}
