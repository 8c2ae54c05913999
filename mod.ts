/**
 * edgesocks: a SOCKS5 server (RFC 1928, RFC 1929) that runs unchanged on
 * Deno, Bun and Node, and the pure codecs it is built on.
 *
 * @example
 * ```ts
 * import { serve } from "edgesocks";
 *
 * const server = await serve({
 *   listen: "127.0.0.1:1080",
 *   users: { alice: "s3cret" },
 * });
 * console.log(server.addresses); // [ { host: "127.0.0.1", port: 1080 } ]
 * await server.close();
 * ```
 *
 * @module
 */
export * from "./src/wire/mod.ts";
export { serve } from "./src/server/serve.ts";
export { runtimeNetwork } from "./src/net/runtime_network.ts";
export * from "./src/client/mod.ts";
export * from "./src/server/mod.ts";
export { VERSION } from "./src/version.ts";
