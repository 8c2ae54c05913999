/**
 * The client calls for edge runtimes, which `edgesocks/edge` exports (and
 * `edgesocks` too, under the `workerd`, `worker` and `browser` export
 * conditions that Worker bundlers resolve): the same calls as on Deno, Bun
 * and Node, with the Worker's `cloudflare:sockets` as the default network
 * and nothing that needs a `node:` module.
 *
 * @module
 */

import { edgeNetwork } from "../net/edge_network.ts";
import type { HostPort } from "../wire/address.ts";
import { openBind, type SocksBind } from "./_bind.ts";
import { openConnect } from "./_connect.ts";
import {
  openUdpAssociation,
  type SocksUdpAssociation,
  type UdpAssociateOptions,
} from "./_udp_associate.ts";
import type { ConnectOptions } from "./options.ts";
import type { SocksConnection } from "./socks_connection.ts";
import type { ProxyOptions } from "./url.ts";

/**
 * Opens a tunnel to `destination` through `proxy`, as `connect()` does on
 * Deno, Bun and Node; in a Worker it dials with `cloudflare:sockets`, on
 * another runtime with `options.dial` or `options.network`.
 *
 * @example
 * ```ts
 * import { connect } from "./edge.ts";
 * const tunnel = await connect("socks5h://127.0.0.1:1080", "example.com:80");
 * tunnel.close();
 * ```
 */
export function connect(
  proxy: string | ProxyOptions,
  destination: string | HostPort,
  options: ConnectOptions = {},
): Promise<SocksConnection> {
  return openConnect(proxy, destination, {
    ...options,
    defaultNetwork: edgeNetwork,
  });
}

/**
 * Rejects: an edge runtime has no socket of its own to hand over; use
 * {@linkcode connect}, whose tunnel is a pair of web streams.
 *
 * @example
 * ```ts
 * import { connectNative } from "./edge.ts";
 * await connectNative("socks5h://127.0.0.1:1080", "example.com:80").catch(console.log);
 * ```
 */
export function connectNative<T = never>(
  _proxy: string | ProxyOptions,
  _destination: string | HostPort,
  _options: ConnectOptions = {},
): Promise<T> {
  return Promise.reject(
    new Error(
      "Cannot use connectNative() on an edge runtime: it returns a node:net or Deno socket; use connect(), whose tunnel has web streams",
    ),
  );
}

/**
 * BIND through `proxy`, as `bind()` does on Deno, Bun and Node: the
 * client only dials out, so it runs wherever {@linkcode connect} does.
 *
 * @example
 * ```ts
 * import { bind } from "./edge.ts";
 * const listening = await bind("socks5h://127.0.0.1:1080", "0.0.0.0:0");
 * listening.close();
 * ```
 */
export function bind(
  proxy: string | ProxyOptions,
  destination: string | HostPort,
  options: ConnectOptions = {},
): Promise<SocksBind> {
  return openBind(proxy, destination, {
    ...options,
    defaultNetwork: edgeNetwork,
  });
}

/**
 * UDP ASSOCIATE through `proxy`: needs a UDP socket, so in a Worker it
 * rejects saying so; elsewhere it takes `options.network`.
 *
 * @example
 * ```ts
 * import { udpAssociate } from "./edge.ts";
 * await udpAssociate("socks5h://127.0.0.1:1080").catch(console.log);
 * ```
 */
export function udpAssociate(
  proxy: string | ProxyOptions,
  options: UdpAssociateOptions = {},
): Promise<SocksUdpAssociation> {
  return openUdpAssociation(proxy, {
    ...options,
    defaultNetwork: edgeNetwork,
  });
}
