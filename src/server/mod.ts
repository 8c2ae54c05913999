/**
 * What the server exports on every runtime, edge runtimes included:
 * everything around `serve()` (which each entry point adds with its own
 * default network), with the auth, rules, observability and network types
 * it takes.
 *
 * @module
 */
export { upstreamNetwork } from "./upstream.ts";
export { type CloseOptions, Server, startServer } from "./server.ts";
export type { ServeOptions } from "./options.ts";
export type { Authenticate } from "../auth/authenticate.ts";
export type { FailureReason } from "../observe/metrics.ts";
export {
  credentialsAuthenticator,
  type CredentialsAuthenticatorOptions,
  hashPassword,
  type HashPasswordOptions,
  isPasswordHash,
  verifyPassword,
} from "../auth/credentials.ts";
export {
  parseUsersFile,
  type UsersFile,
  UsersFileError,
} from "../auth/users_file.ts";
export type { LimitOptions } from "./limits.ts";
export type { ThrottleOptions } from "../auth/login_throttle.ts";
export {
  ACCEPT_ERROR_CODES,
  type AcceptErrorCode,
  type CommandName,
  type HandshakeFailureReason,
  Metrics,
  REFUSAL_REASONS,
  type RefusalReason,
} from "../observe/metrics.ts";
export {
  type MetricsServer,
  type MetricsServerOptions,
  serveMetrics,
} from "../observe/metrics_server.ts";
export * from "../rules/mod.ts";
export {
  createLogger,
  type LineLogger,
  LOG_LEVELS,
  type Logger,
  type LoggerOptions,
  type LogLevel,
  type LogRecord,
  type LogSink,
} from "../observe/logger.ts";
export type {
  Connection,
  Datagram,
  DialOptions,
  Listener,
  ListenOptions,
  Network,
  Receiver,
  UdpSocket,
} from "../net/connection.ts";
