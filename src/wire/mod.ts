/**
 * The SOCKS5 codecs, and the PROXY protocol header a load balancer sends
 * before them: pure functions over `Uint8Array` for both sides of the
 * wire. Importing these pulls in no runtime adapter.
 *
 * @module
 */
export * from "./constants.ts";
export * from "./result.ts";
export * from "./address.ts";
export * from "./greeting.ts";
export * from "./method_selection.ts";
export * from "./user_pass.ts";
export * from "./request.ts";
export * from "./reply.ts";
export * from "./udp_datagram.ts";
export * from "./proxy_header.ts";
export { concat, fromUtf8, timingSafeEqual, utf8 } from "../bytes.ts";
