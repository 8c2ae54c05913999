/**
 * BIND through a SOCKS5 proxy (RFC 1928 §4) on Deno, Bun and Node: the
 * proxy listens for one incoming connection from the expected peer and
 * replies twice, first with where it listens, then with who connected.
 *
 * @module
 */

import { runtimeNetwork } from "../net/runtime_network.ts";
import type { HostPort } from "../wire/address.ts";
import { openBind, type SocksBind } from "./_bind.ts";
import type { ConnectOptions } from "./options.ts";
import type { ProxyOptions } from "./url.ts";

export type { SocksBind } from "./_bind.ts";

/**
 * Asks the proxy to accept one connection from `destination` (the peer
 * expected; `0.0.0.0:0` lets the proxy take anyone it allows). Resolves
 * after the first reply. `options.timeout` bounds that first reply only;
 * the wait for the peer ends with the proxy's own timeout, `close()`, or
 * `options.signal`.
 *
 * @example
 * ```ts
 * import { bind } from "./bind.ts";
 * const listening = await bind("socks5h://127.0.0.1:1080", "0.0.0.0:0");
 * console.log(listening.bound.port);
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
    defaultNetwork: runtimeNetwork,
  });
}
