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
export { upstreamNetwork } from "./src/server/upstream.ts";
export { type CloseOptions, Server, startServer } from "./src/server/server.ts";
export type { ServeOptions } from "./src/server/options.ts";
export type { Authenticate } from "./src/auth/authenticate.ts";
export type { FailureReason } from "./src/observe/metrics.ts";
export {
  credentialsAuthenticator,
  type CredentialsAuthenticatorOptions,
  hashPassword,
  type HashPasswordOptions,
  isPasswordHash,
  verifyPassword,
} from "./src/auth/credentials.ts";
export {
  parseUsersFile,
  type UsersFile,
  UsersFileError,
} from "./src/auth/users_file.ts";
export type { LimitOptions } from "./src/server/limits.ts";
export type { ThrottleOptions } from "./src/auth/login_throttle.ts";
export {
  type CommandName,
  type HandshakeFailureReason,
  Metrics,
  REFUSAL_REASONS,
  type RefusalReason,
} from "./src/observe/metrics.ts";
export {
  type MetricsServer,
  type MetricsServerOptions,
  serveMetrics,
} from "./src/observe/metrics_server.ts";
export * from "./src/rules/mod.ts";
export {
  createLogger,
  type LineLogger,
  LOG_LEVELS,
  type Logger,
  type LoggerOptions,
  type LogLevel,
  type LogRecord,
  type LogSink,
} from "./src/observe/logger.ts";
export type {
  Connection,
  Datagram,
  DialOptions,
  Listener,
  Network,
  UdpSocket,
} from "./src/net/connection.ts";
export { VERSION } from "./src/version.ts";
