/**
 * UDP ASSOCIATE through a SOCKS5 proxy (RFC 1928 §7) on Deno, Bun and
 * Node: datagrams to and from any destination go through the proxy's UDP
 * relay, wrapped in the SOCKS UDP header, for as long as the TCP control
 * connection lives.
 *
 * @module
 */

import { runtimeNetwork } from "../net/runtime_network.ts";
import {
  openUdpAssociation,
  type SocksUdpAssociation,
  type UdpAssociateOptions,
} from "./_udp_associate.ts";
import type { ProxyOptions } from "./url.ts";

export type {
  SocksUdpAssociation,
  UdpAssociateOptions,
} from "./_udp_associate.ts";

/**
 * Opens a UDP association: a TCP control connection to the proxy, a UDP
 * socket on the interface that reaches it (named in the request, so the
 * proxy knows where datagrams come from), and the relay address from the
 * reply. A relay reported as 0.0.0.0 or `::` is taken to be at the
 * proxy's own address.
 *
 * @example
 * ```ts
 * import { udpAssociate } from "./_udp_associate.ts";
 * const udp = await udpAssociate("socks5h://127.0.0.1:1080");
 * await udp.send(new Uint8Array([1, 2, 3]), "127.0.0.1:5353");
 * udp.close();
 * ```
 */
export function udpAssociate(
  proxy: string | ProxyOptions,
  options: UdpAssociateOptions = {},
): Promise<SocksUdpAssociation> {
  return openUdpAssociation(proxy, {
    ...options,
    defaultNetwork: runtimeNetwork,
  });
}
