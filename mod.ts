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
export { runtimeNetwork, serve } from "./src/serve.ts";
export { type CloseOptions, Server, startServer } from "./src/server.ts";
export type { ServeOptions } from "./src/options.ts";
export type { Authenticate } from "./src/auth.ts";
export {
  createLogger,
  LOG_LEVELS,
  type Logger,
  type LoggerOptions,
  type LogLevel,
  type LogRecord,
} from "./src/logger.ts";
export type {
  Connection,
  DialOptions,
  Listener,
  Network,
} from "./src/connection.ts";
export { VERSION } from "./src/version.ts";
