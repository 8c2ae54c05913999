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
  type NativeSocket,
  type NodeSocketLike,
} from "./connect.ts";
export { bind } from "./bind.ts";
export { udpAssociate } from "./udp_associate.ts";
export * from "./common.ts";
