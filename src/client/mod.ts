/**
 * The SOCKS5 client: CONNECT, BIND and UDP ASSOCIATE through a proxy on
 * Deno, Bun and Node, built on the same codecs as the server, and the
 * sans-IO handshake underneath for other transports.
 *
 * @example
 * ```ts
 * import { connect, SocksReplyError } from "./mod.ts";
 * try {
 *   const tunnel = await connect("socks5h://alice:s3cret@127.0.0.1:1080", "example.com:80");
 *   tunnel.close();
 * } catch (error) {
 *   if (error instanceof SocksReplyError) console.log(error.reply); // e.g. 5
 * }
 * ```
 *
 * @module
 */
export {
  connect,
  connectNative,
  type ConnectOptions,
  DEFAULT_TIMEOUT,
  type NativeSocket,
  type NodeSocketLike,
} from "./connect.ts";
export { bind, type SocksBind } from "./bind.ts";
export {
  type SocksUdpAssociation,
  udpAssociate,
  type UdpAssociateOptions,
} from "./udp_associate.ts";
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
