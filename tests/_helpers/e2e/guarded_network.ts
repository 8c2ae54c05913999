/**
 * The runtime's real network with a guard on `connect()`: only loopback
 * destinations are dialled, any other is recorded as a violation and
 * refused without a packet leaving the machine. Lookups of scripted names
 * answer with scripted addresses, so a test can make a name "resolve" to
 * cloud metadata without touching DNS.
 *
 * @module
 */

import * as net from "node:net";
import type { Network } from "../../../mod.ts";
import { runtimeNetwork } from "../../../mod.ts";

/**
 * A guarded network and what it saw.
 *
 * @example
 * ```ts
 * import { guardedNetwork } from "./guarded_network.ts";
 * const guarded = await guardedNetwork({ "metadata.test": ["169.254.169.254"] });
 * console.log(guarded.dialled, guarded.violations); // [] []
 * ```
 */
export interface GuardedNetwork {
  /** Give it to `serve({ network })`. */
  network: Network;
  /** Every `host:port` passed to `connect()`, in order. */
  readonly dialled: string[];
  /** Every non-loopback `host:port` the server tried to dial. */
  readonly violations: string[];
}

/**
 * Wraps `runtimeNetwork()`: `connect()` to a non-loopback address is
 * refused and recorded; `lookup()` of a name in `names` answers its list.
 *
 * @example
 * ```ts
 * import { guardedNetwork } from "./guarded_network.ts";
 * import { serve } from "../../../mod.ts";
 * const guarded = await guardedNetwork({});
 * const server = await serve({ listen: "127.0.0.1:0", network: guarded.network });
 * await server.close();
 * ```
 */
export async function guardedNetwork(
  names: Readonly<Record<string, string[]>>,
): Promise<GuardedNetwork> {
  const base = await runtimeNetwork();
  const dialled: string[] = [];
  const violations: string[] = [];
  const network: Network = {
    listen: (address) => base.listen(address),
    bindUdp: (address, onDatagram) => base.bindUdp(address, onDatagram),
    lookup: (name) =>
      Object.hasOwn(names, name)
        ? Promise.resolve([...names[name]!])
        : base.lookup(name),
    connect(options) {
      const target = `${options.host}:${options.port}`;
      dialled.push(target);
      if (!isLoopbackIp(options.host)) {
        violations.push(target);
        return Promise.reject(
          new Error(`Test network: refusing to dial ${target}`),
        );
      }
      return base.connect(options);
    },
  };
  return { network, dialled, violations };
}

function isLoopbackIp(host: string): boolean {
  if (net.isIPv4(host)) return host.startsWith("127.");
  return host === "::1" || host === "0:0:0:0:0:0:0:1";
}
