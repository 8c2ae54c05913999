/**
 * What can go wrong talking to a SOCKS5 proxy, one class per kind, so a
 * caller can tell "the proxy refused" from "the proxy is broken":
 *
 * - {@linkcode SocksReplyError}: the proxy answered the request with a
 *   failure reply (RFC 1928 §6);
 * - {@linkcode SocksAuthError}: no method was acceptable, or the login was
 *   refused (RFC 1928 §3, RFC 1929 §2);
 * - {@linkcode SocksProtocolError}: the proxy sent bytes that are not
 *   SOCKS5, or closed mid-handshake.
 *
 * All three extend {@linkcode SocksError}.
 *
 * @module
 */

import { type Reply, REPLY_MESSAGES } from "../wire/constants.ts";
import { hex, type ProtocolErrorCode } from "../wire/result.ts";

/**
 * The common base of the client's errors.
 *
 * @example
 * ```ts
 * import { SocksError, SocksReplyError } from "./errors.ts";
 * console.log(new SocksReplyError(5) instanceof SocksError); // true
 * ```
 */
export class SocksError extends Error {
  /** Takes the message. */
  constructor(message: string) {
    super(message);
    this.name = "SocksError";
  }
}

/**
 * The proxy answered with a failure reply; `reply` is its REP code and the
 * message carries the RFC 1928 meaning.
 *
 * @example
 * ```ts
 * import { SocksReplyError } from "./errors.ts";
 * const error = new SocksReplyError(5);
 * console.log(error.message); // "SOCKS5 proxy replied 0x05: connection refused"
 * console.log(error.reply); // 5
 * ```
 */
export class SocksReplyError extends SocksError {
  /** REP, 0x01–0x08. */
  readonly reply: Reply;

  /** Takes the REP code; the message says what it means. */
  constructor(reply: Reply) {
    super(`SOCKS5 proxy replied ${hex(reply)}: ${REPLY_MESSAGES[reply]}`);
    this.name = "SocksReplyError";
    this.reply = reply;
  }
}

/**
 * Why a login failed: the proxy accepted none of the offered methods
 * (`05 FF`), or it refused the username and password.
 *
 * @example
 * ```ts
 * import type { SocksAuthFailure } from "./errors.ts";
 * const reason: SocksAuthFailure = "login_refused";
 * ```
 */
export type SocksAuthFailure = "no_acceptable_method" | "login_refused";

/**
 * The proxy would not let this client in.
 *
 * @example
 * ```ts
 * import { SocksAuthError } from "./errors.ts";
 * const error = new SocksAuthError("login_refused", { status: 1 });
 * console.log(error.message); // "SOCKS5 proxy refused the login: status 0x01"
 * ```
 */
export class SocksAuthError extends SocksError {
  /** What failed. */
  readonly reason: SocksAuthFailure;
  /** The RFC 1929 status byte of a refused login; `null` otherwise. */
  readonly status: number | null;

  /** Takes why the login failed and, for a refusal, the status. */
  constructor(
    reason: SocksAuthFailure,
    details: { status?: number; offered?: readonly number[] } = {},
  ) {
    const { status = null, offered = [] } = details;
    super(
      reason === "login_refused"
        ? `SOCKS5 proxy refused the login: status ${hex(status ?? 0)}`
        : `SOCKS5 proxy accepts none of the offered methods: ${
          offered.map(hex).join(", ")
        }`,
    );
    this.name = "SocksAuthError";
    this.reason = reason;
    this.status = status;
  }
}

/**
 * What was wrong with the proxy's bytes: a codec's error code, a method
 * that was never offered, or a close before the awaited message.
 *
 * @example
 * ```ts
 * import type { SocksProtocolErrorCode } from "./errors.ts";
 * const code: SocksProtocolErrorCode = "unexpected_end";
 * ```
 */
export type SocksProtocolErrorCode =
  | ProtocolErrorCode
  | "unoffered_method"
  | "unexpected_end";

/**
 * The proxy does not speak SOCKS5 as RFC 1928 and RFC 1929 say.
 *
 * @example
 * ```ts
 * import { SocksProtocolError } from "./errors.ts";
 * const error = new SocksProtocolError(
 *   "bad_version",
 *   "Cannot decode method selection: version 0x04 is not 0x05",
 * );
 * console.log(error.code); // "bad_version"
 * ```
 */
export class SocksProtocolError extends SocksError {
  /** What was wrong. */
  readonly code: SocksProtocolErrorCode;

  /** Takes the decoder's error code and message. */
  constructor(code: SocksProtocolErrorCode, message: string) {
    super(message);
    this.name = "SocksProtocolError";
    this.code = code;
  }
}
