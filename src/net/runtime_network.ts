/**
 * The network of whichever runtime runs this code, loading only that
 * runtime's adapter: the one place the server and the client pick it.
 *
 * @module
 */

import type { Network } from "./connection.ts";

/**
 * The network adapter of the running runtime: Deno, Bun, or else Node.
 *
 * @example
 * ```ts
 * import { runtimeNetwork } from "./runtime_network.ts";
 * const network = await runtimeNetwork();
 * console.log(typeof network.listen); // "function"
 * ```
 */
export async function runtimeNetwork(): Promise<Network> {
  // Deno and Bun also provide `process`, so they are asked for first.
  if ("Deno" in globalThis) return (await import("./adapters/deno.ts")).network;
  if ("Bun" in globalThis) return (await import("./adapters/bun.ts")).network;
  return (await import("./adapters/node.ts")).network;
}
