/**
 * The one shape every decoder returns: a value, a request for more bytes,
 * or a protocol error. Decoders never throw on peer bytes.
 *
 * @module
 */

import type { Reply } from "./constants.ts";

/**
 * Machine-readable name of what was wrong with a frame.
 *
 * @example
 * ```ts
 * import type { ProtocolErrorCode } from "./result.ts";
 * const code: ProtocolErrorCode = "unsupported_command";
 * ```
 */
export type ProtocolErrorCode =
  | "bad_version"
  | "no_methods"
  | "unsupported_command"
  | "unsupported_address_type"
  | "empty_domain"
  | "unassigned_reply"
  | "not_proxy_header"
  | "bad_proxy_header"
  | "proxy_header_too_long";

/**
 * A frame the peer should not have sent, with the reply it turns into.
 *
 * @example
 * ```ts
 * import type { ProtocolError } from "./result.ts";
 * const error: ProtocolError = {
 *   code: "unsupported_command",
 *   message: "Cannot decode request: command 0x09 is not supported",
 *   offset: 1,
 *   reply: 0x07,
 * };
 * ```
 */
export interface ProtocolError {
  /** What was wrong. */
  code: ProtocolErrorCode;
  /** Sentence-case description for logs. */
  message: string;
  /** Offset of the offending byte within the frame. */
  offset: number;
  /** The REP code a server answers with, or `null` when it just closes. */
  reply: Reply | null;
}

/**
 * Result of decoding from the bytes received so far.
 *
 * - `done`: `value` used the first `bytesRead` bytes; the rest belong to the
 *   caller (pipelined data).
 * - `partial`: at least `needed` more bytes must arrive first.
 * - `invalid`: no number of further bytes makes this a valid frame.
 *
 * @example
 * ```ts
 * import { decodeGreeting } from "./greeting.ts";
 * const result = decodeGreeting(new Uint8Array([5, 2, 0]));
 * if (result.status === "partial") console.log(result.needed); // 1
 * ```
 */
export type Decoded<T> =
  | { status: "done"; value: T; bytesRead: number }
  | { status: "partial"; needed: number }
  | { status: "invalid"; error: ProtocolError };

/**
 * Builds a `done` result.
 *
 * @example
 * ```ts
 * import { done } from "./result.ts";
 * console.log(done("x", 3)); // { status: "done", value: "x", bytesRead: 3 }
 * ```
 */
export function done<T>(value: T, bytesRead: number): Decoded<T> {
  return { status: "done", value, bytesRead };
}

/**
 * Builds a `partial` result.
 *
 * @example
 * ```ts
 * import { partial } from "./result.ts";
 * console.log(partial(2)); // { status: "partial", needed: 2 }
 * ```
 */
export function partial(needed: number): { status: "partial"; needed: number } {
  return { status: "partial", needed };
}

/**
 * Builds an `invalid` result.
 *
 * @example
 * ```ts
 * import { invalid } from "./result.ts";
 * const result = invalid({
 *   code: "bad_version",
 *   message: "Cannot decode greeting: version 0x04 is not 0x05",
 *   offset: 0,
 *   reply: null,
 * });
 * console.log(result.status); // "invalid"
 * ```
 */
export function invalid(
  error: ProtocolError,
): { status: "invalid"; error: ProtocolError } {
  return { status: "invalid", error };
}

/**
 * Formats a byte as `0x05` for error messages.
 *
 * @example
 * ```ts
 * import { hex } from "./result.ts";
 * console.log(hex(4)); // "0x04"
 * ```
 */
export function hex(byte: number): string {
  return `0x${byte.toString(16).padStart(2, "0")}`;
}
