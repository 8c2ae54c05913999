/**
 * `serve()`: starts a server on whichever runtime is running this code.
 *
 * @module
 */

import type { ServeOptions } from "./options.ts";
import { runtimeNetwork } from "../net/runtime_network.ts";
import { type Server, startServer } from "./server.ts";

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
