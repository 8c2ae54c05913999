/**
 * The network of an edge runtime, for the `edgesocks/edge` entry point:
 * the one place it is picked. Unlike `runtime_network.ts` it reaches no
 * adapter that needs `node:` modules, so a Worker bundle holds none.
 *
 * @module
 */

import type { Network } from "./connection.ts";
import { isWorkerd, network } from "./adapters/workerd.ts";

/**
 * The network of the running edge runtime: Cloudflare Workers (workerd).
 * Elsewhere it rejects, saying to pass `{ dial }` or `{ network }`.
 *
 * @example
 * ```ts
 * import { edgeNetwork } from "./edge_network.ts";
 * await edgeNetwork().catch(console.log); // outside a Worker
 * ```
 */
export function edgeNetwork(): Promise<Network> {
  if (isWorkerd()) return Promise.resolve(network);
  return Promise.reject(
    new Error(
      "Cannot find this runtime's network: only Cloudflare Workers is detected without help; pass { dial } or { network } to the client call",
    ),
  );
}
