/**
 * The Cloudflare Workers (workerd) adapter: outbound TCP through
 * `connect()` of `cloudflare:sockets`, the only socket API a Worker has.
 * It implements the client's part of the {@linkcode Network} contract;
 * listening, UDP and name lookups reject with an error saying a Worker
 * cannot do that. `cloudflare:sockets` is imported on first dial, so other
 * runtimes never load it; Worker bundlers keep it external (wrangler does
 * by itself, plain esbuild needs `--external:cloudflare:*`).
 *
 * @module
 */

import type { Network } from "../connection.ts";
import { dialOnlyNetwork, type StreamSocket } from "../stream_connection.ts";

// The slice of `cloudflare:sockets` this adapter uses, declared here so the
// file type-checks without @cloudflare/workers-types.
interface WorkerSocket extends StreamSocket {
  readonly opened: Promise<unknown>;
  close(): Promise<void>;
}
interface Sockets {
  connect(address: { hostname: string; port: number }): WorkerSocket;
}

/**
 * Whether this code runs in workerd: Cloudflare Workers, wrangler's local
 * mode, or workerd itself.
 *
 * @example
 * ```ts
 * import { isWorkerd } from "./workerd.ts";
 * console.log(isWorkerd()); // false, outside a Worker
 * ```
 */
export function isWorkerd(): boolean {
  const navigator = (globalThis as { navigator?: { userAgent?: unknown } })
    .navigator;
  return navigator?.userAgent === "Cloudflare-Workers";
}

/**
 * The Worker's network: dials with `cloudflare:sockets`; the platform
 * resolves names.
 *
 * @example
 * ```ts
 * import { network } from "./workerd.ts";
 * await network.listen({ host: "127.0.0.1", port: 0 }).catch(console.log);
 * ```
 */
export const network: Network = dialOnlyNetwork(async (address) => {
  // @ts-expect-error: only workerd has this module, and its types are not installed
  const { connect } = await import("cloudflare:sockets") as Sockets;
  // IPv6 literals go in brackets, as in a URL's host.
  const hostname = address.host.includes(":")
    ? `[${address.host}]`
    : address.host;
  const socket = connect({ hostname, port: address.port });
  // `opened` rejects when the connection cannot be made (refused, or an
  // address the Worker may not reach).
  await socket.opened;
  return socket;
}, "Cloudflare Workers");
