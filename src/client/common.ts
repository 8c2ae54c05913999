/**
 * What the client exports on every runtime, edge runtimes included: the
 * errors, types and building blocks around the calls (`connect()`,
 * `bind()`, `udpAssociate()`), which each entry point adds with its own
 * default network.
 *
 * @module
 */
export { type ConnectOptions, DEFAULT_TIMEOUT } from "./options.ts";
export type { SocksBind } from "./_bind.ts";
export type {
  SocksUdpAssociation,
  UdpAssociateOptions,
} from "./_udp_associate.ts";
export type {
  ChunkReader,
  ChunkWriter,
  StreamDial,
  StreamSocket,
} from "../net/stream_connection.ts";
export { type SocksConnection, socksConnection } from "./socks_connection.ts";
export { parseProxyUrl, type ProxyOptions } from "./url.ts";
export {
  SocksAuthError,
  type SocksAuthFailure,
  SocksError,
  SocksProtocolError,
  type SocksProtocolErrorCode,
  SocksReplyError,
} from "./errors.ts";
export {
  ClientHandshake,
  type ClientHandshakeEvent,
  type ClientHandshakeOptions,
  type ClientHandshakeStep,
  type Credentials,
} from "./handshake.ts";
export {
  connectionTransport,
  type HandshakeOutcome,
  type HandshakeTransport,
  negotiate,
  type NegotiateOptions,
  withLeftover,
} from "./negotiate.ts";
export {
  dialProxy,
  openTunnel,
  requestAddress,
  type Tunnel,
  type TunnelRequest,
} from "./tunnel.ts";
export type { DenoConn } from "./native_deno.ts";
