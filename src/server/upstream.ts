/**
 * Upstream chaining: a {@linkcode Network} whose outbound connections go
 * through another SOCKS5 proxy, so the server's own CONNECT path (dial,
 * access rules, relay) reaches destinations through it unchanged.
 *
 * @module
 */

import { SocksReplyError } from "../client/errors.ts";
import { withLeftover } from "../client/negotiate.ts";
import { openTunnel } from "../client/tunnel.ts";
import type { ProxyOptions } from "../client/url.ts";
import type { Connection, DialOptions, Network } from "../net/connection.ts";
import { ReplyError } from "../net/dial_error.ts";
import { formatHostPort } from "../wire/address.ts";
import { Command, Reply } from "../wire/constants.ts";

/**
 * A network that dials every destination through the SOCKS5 proxy `proxy`,
 * reached through `base`.
 *
 * - `connect({ host, port, signal })` connects to the upstream through
 *   `base`, logs in when `proxy.credentials` are set, and sends CONNECT for
 *   `host:port`. The connection it returns is the one to the upstream
 *   (its addresses are that socket's), with any bytes that came after the
 *   upstream's reply delivered by its first read.
 * - A failure reply from the upstream rejects with a `ReplyError` carrying
 *   the same code, so our client gets the reply the upstream gave. An
 *   upstream that cannot be reached, refuses our login or speaks broken
 *   SOCKS rejects with reply 0x01 (general failure): the destination was
 *   not what failed. The original error is the `cause`.
 * - `lookup(name)`: with `resolve: "proxy"` (socks5h, the default) it
 *   returns `[name]` unresolved, so the name travels to the upstream and
 *   is resolved there. Destination rules then see the name only: `dest`
 *   host and `.suffix` matchers work, but CIDR matchers and the default
 *   denials (link-local, loopback…) cannot apply to an address this server
 *   never learns. With `resolve: "local"` (socks5) names resolve through
 *   `base.lookup` and the rules see every address, as without an upstream.
 * - `listen` and `bindUdp` are `base`'s: BIND and UDP ASSOCIATE are served
 *   from this host, not chained. With socks5h their names stay unresolved
 *   too, so a BIND naming its peer by name accepts no peer, and UDP
 *   datagrams addressed by name are handed to the runtime's UDP send as
 *   names; send IP addresses for those.
 *
 * @example
 * ```ts
 * import { serve } from "./serve.ts";
 * import { runtimeNetwork } from "../net/runtime_network.ts";
 * import { parseProxyUrl } from "../client/url.ts";
 * import { upstreamNetwork } from "./upstream.ts";
 * const server = await serve({
 *   listen: "127.0.0.1:0",
 *   network: upstreamNetwork(
 *     await runtimeNetwork(),
 *     parseProxyUrl("socks5h://alice:s3cret@proxy.example:1080"),
 *   ),
 * });
 * await server.close();
 * ```
 */
export function upstreamNetwork(base: Network, proxy: ProxyOptions): Network {
  const remoteNames = proxy.resolve !== "local";
  return {
    listen: (address, options) => base.listen(address, options),
    bindUdp: (address, onDatagram) => base.bindUdp(address, onDatagram),
    lookup: remoteNames
      ? (name) => Promise.resolve([name])
      : (name) => base.lookup(name),
    connect: (options) => connectUpstream(base, proxy, options),
  };
}

async function connectUpstream(
  base: Network,
  proxy: ProxyOptions,
  options: DialOptions,
): Promise<Connection> {
  const { host, port, signal } = options;
  let tunnel;
  try {
    tunnel = await openTunnel(base, proxy, {
      command: Command.Connect,
      destination: { host, port },
      signal,
    });
  } catch (error) {
    if (signal?.aborted) throw error;
    throw upstreamError(error, proxy, formatHostPort({ host, port }));
  }
  const { connection, outcome } = tunnel;
  // CONNECT has one reply, so the outcome is `established`.
  const leftover = outcome.type === "established"
    ? outcome.leftover
    : new Uint8Array(0);
  return withLeftover(connection, leftover);
}

function upstreamError(
  error: unknown,
  proxy: ProxyOptions,
  destination: string,
): ReplyError {
  const via = `upstream proxy ${formatHostPort(proxy)}`;
  const details = error instanceof Error ? error.message : String(error);
  const mapped = new ReplyError(
    error instanceof SocksReplyError ? error.reply : Reply.GeneralFailure,
    `Cannot connect to ${destination} through ${via}: ${details}`,
  );
  mapped.cause = error;
  return mapped;
}
