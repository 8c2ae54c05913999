/**
 * Turns the errors each runtime throws when dialling or resolving into the
 * SOCKS reply a client is owed, the way Dante and 3proxy map errno values.
 *
 * @module
 */

import { Reply } from "../wire/constants.ts";

// Node and Bun put errno names in `code`; Deno throws classes named after
// the error kind (`ConnectionRefused`) and sometimes an errno `code` too.
const replies: Readonly<Record<string, Reply>> = {
  ENETDOWN: Reply.NetworkUnreachable,
  ENETUNREACH: Reply.NetworkUnreachable,
  NetworkUnreachable: Reply.NetworkUnreachable,
  EHOSTDOWN: Reply.HostUnreachable,
  EHOSTUNREACH: Reply.HostUnreachable,
  HostUnreachable: Reply.HostUnreachable,
  ENOTFOUND: Reply.HostUnreachable,
  EAI_NONAME: Reply.HostUnreachable,
  EAI_NODATA: Reply.HostUnreachable,
  EAI_FAIL: Reply.HostUnreachable,
  EAI_AGAIN: Reply.HostUnreachable,
  ENODATA: Reply.HostUnreachable,
  DNSException: Reply.HostUnreachable,
  ECONNREFUSED: Reply.ConnectionRefused,
  ConnectionRefused: Reply.ConnectionRefused,
  ECONNRESET: Reply.ConnectionRefused,
  ConnectionReset: Reply.ConnectionRefused,
  ETIMEDOUT: Reply.TtlExpired,
  TimedOut: Reply.TtlExpired,
  TimeoutError: Reply.TtlExpired,
  EACCES: Reply.NotAllowed,
  EPERM: Reply.NotAllowed,
  PermissionDenied: Reply.NotAllowed,
};

/**
 * An error with the SOCKS reply it stands for, thrown by the server's own
 * steps (a name with no addresses, an attempt that timed out).
 *
 * @example
 * ```ts
 * import { ReplyError } from "./dial_error.ts";
 * const error = new ReplyError(4, "Cannot resolve example.invalid: no addresses");
 * console.log(error.reply); // 4
 * ```
 */
export class ReplyError extends Error {
  /** The REP code. */
  readonly reply: Reply;

  constructor(reply: Reply, message: string) {
    super(message);
    this.name = "ReplyError";
    this.reply = reply;
  }
}

/**
 * The reply code for a dial or lookup error; 0x01 for anything unknown.
 *
 * @example
 * ```ts
 * import { replyForError } from "./dial_error.ts";
 * console.log(replyForError(Object.assign(new Error("x"), { code: "ECONNREFUSED" }))); // 5
 * ```
 */
export function replyForError(error: unknown): Reply {
  if (error instanceof ReplyError) return error.reply;
  if (typeof error !== "object" || error === null) return Reply.GeneralFailure;
  const { code, name } = error as { code?: unknown; name?: unknown };
  return (typeof code === "string" ? replies[code] : undefined) ??
    (typeof name === "string" ? replies[name] : undefined) ??
    Reply.GeneralFailure;
}
