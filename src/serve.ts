/**
 * `serve()`: starts a server on whichever runtime is running this code,
 * loading only that runtime's adapter.
 *
 * @module
 */

import type { Network } from "./connection.ts";
import type { ServeOptions } from "./options.ts";
import { type Server, startServer } from "./server.ts";

/**
 * The network adapter of the running runtime: Deno, Bun, or else Node.
 *
 * @example
 * ```ts
 * import { runtimeNetwork } from "./serve.ts";
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

/**
 * Starts a SOCKS5 server.
 *
 * @throws {TypeError} When an option is invalid; the message names it.
 *
 * @example
 * ```ts
 * import { serve } from "./serve.ts";
 * const server = await serve({ listen: "127.0.0.1:0", users: { alice: "s3cret" } });
 * console.log(server.addresses);
 * await server.close();
 * ```
 */
export async function serve(options: ServeOptions = {}): Promise<Server> {
  return await startServer(options.network ?? await runtimeNetwork(), options);
}
