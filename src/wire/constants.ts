/**
 * Every number that appears on the SOCKS5 wire (RFC 1928, RFC 1929), named.
 *
 * Each constant set is an `as const` object with a type of the same name
 * holding its values, so `Command.Connect` is a value and `Command` a type.
 *
 * @module
 */

/**
 * The SOCKS protocol version byte (RFC 1928 §3).
 *
 * @example
 * ```ts
 * import { SOCKS_VERSION } from "./constants.ts";
 * console.log(SOCKS_VERSION === 0x05); // true
 * ```
 */
export const SOCKS_VERSION = 0x05;

/**
 * The username/password sub-negotiation version byte (RFC 1929 §2).
 *
 * @example
 * ```ts
 * import { USER_PASS_VERSION } from "./constants.ts";
 * console.log(USER_PASS_VERSION === 0x01); // true
 * ```
 */
export const USER_PASS_VERSION = 0x01;

/**
 * Authentication methods offered in a greeting and chosen in the method
 * selection (RFC 1928 §3).
 *
 * @example
 * ```ts
 * import { AuthMethod } from "./constants.ts";
 * console.log(AuthMethod.UserPass); // 2
 * ```
 */
export const AuthMethod = {
  NoAuth: 0x00,
  Gssapi: 0x01,
  UserPass: 0x02,
  NoAcceptable: 0xff,
} as const;
/** One of the {@linkcode AuthMethod} values, or any other byte a peer sent. */
export type AuthMethod = typeof AuthMethod[keyof typeof AuthMethod];

/**
 * Request commands (RFC 1928 §4).
 *
 * @example
 * ```ts
 * import { Command } from "./constants.ts";
 * console.log(Command.UdpAssociate); // 3
 * ```
 */
export const Command = {
  Connect: 0x01,
  Bind: 0x02,
  UdpAssociate: 0x03,
} as const;
/** One of the {@linkcode Command} values. */
export type Command = typeof Command[keyof typeof Command];

/**
 * Address types, ATYP (RFC 1928 §5).
 *
 * @example
 * ```ts
 * import { AddressType } from "./constants.ts";
 * console.log(AddressType.Domain); // 3
 * ```
 */
export const AddressType = {
  IPv4: 0x01,
  Domain: 0x03,
  IPv6: 0x04,
} as const;
/** One of the {@linkcode AddressType} values. */
export type AddressType = typeof AddressType[keyof typeof AddressType];

/**
 * Reply codes, REP (RFC 1928 §6).
 *
 * @example
 * ```ts
 * import { Reply } from "./constants.ts";
 * console.log(Reply.ConnectionRefused); // 5
 * ```
 */
export const Reply = {
  Succeeded: 0x00,
  GeneralFailure: 0x01,
  NotAllowed: 0x02,
  NetworkUnreachable: 0x03,
  HostUnreachable: 0x04,
  ConnectionRefused: 0x05,
  TtlExpired: 0x06,
  CommandNotSupported: 0x07,
  AddressTypeNotSupported: 0x08,
} as const;
/** One of the {@linkcode Reply} values. */
export type Reply = typeof Reply[keyof typeof Reply];

/**
 * What each reply code means, in the words of RFC 1928 §6.
 *
 * @example
 * ```ts
 * import { Reply, REPLY_MESSAGES } from "./constants.ts";
 * console.log(REPLY_MESSAGES[Reply.NotAllowed]); // "connection not allowed by ruleset"
 * ```
 */
export const REPLY_MESSAGES: Readonly<Record<Reply, string>> = {
  [Reply.Succeeded]: "succeeded",
  [Reply.GeneralFailure]: "general SOCKS server failure",
  [Reply.NotAllowed]: "connection not allowed by ruleset",
  [Reply.NetworkUnreachable]: "network unreachable",
  [Reply.HostUnreachable]: "host unreachable",
  [Reply.ConnectionRefused]: "connection refused",
  [Reply.TtlExpired]: "TTL expired",
  [Reply.CommandNotSupported]: "command not supported",
  [Reply.AddressTypeNotSupported]: "address type not supported",
};

/**
 * Status byte of the username/password reply (RFC 1929 §2): zero is
 * success, anything else is failure.
 *
 * @example
 * ```ts
 * import { AuthStatus } from "./constants.ts";
 * console.log(AuthStatus.Failure); // 1
 * ```
 */
export const AuthStatus = {
  Success: 0x00,
  Failure: 0x01,
} as const;
/** One of the {@linkcode AuthStatus} values. */
export type AuthStatus = typeof AuthStatus[keyof typeof AuthStatus];
