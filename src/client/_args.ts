/**
 * The argument forms the client calls accept: a proxy as a URL or options,
 * a destination as `host:port` or a host and port.
 *
 * @module
 */

import { type HostPort, parseHostPort } from "../wire/address.ts";
import { parseProxyUrl, type ProxyOptions } from "./url.ts";

/**
 * A proxy URL parsed, or the options as given.
 *
 * @example
 * ```ts
 * import { proxyOf } from "./_args.ts";
 * console.log(proxyOf("socks5h://127.0.0.1").port); // 1080
 * ```
 */
export function proxyOf(proxy: string | ProxyOptions): ProxyOptions {
  return typeof proxy === "string" ? parseProxyUrl(proxy) : proxy;
}

/**
 * A destination parsed from `host:port` or `[v6]:port`, or as given.
 *
 * @example
 * ```ts
 * import { destinationOf } from "./_args.ts";
 * console.log(destinationOf("[::1]:80")); // { host: "::1", port: 80 }
 * ```
 */
export function destinationOf(destination: string | HostPort): HostPort {
  return typeof destination === "string"
    ? parseHostPort(destination)
    : destination;
}
