/**
 * `serve()` for edge runtimes: a Worker cannot listen, so without a
 * `network` option it rejects, saying so, instead of failing on a missing
 * module.
 *
 * @module
 */

import type { ServeOptions } from "./options.ts";
import { type Server, startServer } from "./server.ts";

/**
 * Starts a SOCKS5 server on `options.network`; rejects when none is given,
 * as an edge runtime has no network to listen on.
 *
 * @example
 * ```ts
 * import { serve } from "./serve_edge.ts";
 * await serve({ listen: "127.0.0.1:0" }).catch(console.log);
 * ```
 */
export async function serve(options: ServeOptions = {}): Promise<Server> {
  if (options.network === undefined) {
    throw new Error(
      "Cannot serve on an edge runtime: a Worker cannot listen for connections; run the server on Deno, Bun or Node",
    );
  }
  return await startServer(options.network, options);
}
