/**
 * Username/password authentication (RFC 1929 §2): the client's request and
 * the server's status reply.
 *
 * ```
 * request:
 * +----+------+----------+------+----------+
 * |VER | ULEN |  UNAME   | PLEN |  PASSWD  |
 * +----+------+----------+------+----------+
 * | 1  |  1   | 1 to 255 |  1   | 1 to 255 |
 * +----+------+----------+------+----------+
 *
 * reply:
 * +----+--------+
 * |VER | STATUS |
 * +----+--------+
 * | 1  |   1    |
 * +----+--------+
 * ```
 *
 * @module
 */

import { assertByte } from "./_assert.ts";
import { fromUtf8, utf8 } from "../bytes.ts";
import { USER_PASS_VERSION } from "./constants.ts";
import { type Decoded, done, hex, invalid, partial } from "./result.ts";

/**
 * Credentials from a username/password request.
 *
 * @example
 * ```ts
 * import type { UserPassRequest } from "./user_pass.ts";
 * const credentials: UserPassRequest = { username: "alice", password: "s3cret" };
 * ```
 */
export interface UserPassRequest {
  /** UTF-8 text; the decoder turns invalid sequences into U+FFFD. */
  username: string;
  /** UTF-8 text; may be empty, as some clients send a username only. */
  password: string;
}

/**
 * The server's answer to a username/password request.
 *
 * @example
 * ```ts
 * import type { UserPassReply } from "./user_pass.ts";
 * const reply: UserPassReply = { status: 0 };
 * ```
 */
export interface UserPassReply {
  /** 0 for success; any other value is a failure. */
  status: number;
}

function badVersion(what: string, version: number) {
  return invalid({
    code: "bad_version",
    message: `Cannot decode ${what}: version ${hex(version)} is not 0x01`,
    offset: 0,
    reply: null,
  });
}

/**
 * Decodes a username/password request. Empty fields are passed through:
 * whether they can log in is the server's decision, not the codec's.
 *
 * @example
 * ```ts
 * import { decodeUserPassRequest } from "./user_pass.ts";
 * const result = decodeUserPassRequest(new Uint8Array([1, 1, 97, 1, 98]));
 * if (result.status === "done") console.log(result.value); // { username: "a", password: "b" }
 * ```
 */
export function decodeUserPassRequest(
  bytes: Uint8Array,
): Decoded<UserPassRequest> {
  if (bytes.length === 0) return partial(3);
  if (bytes[0] !== USER_PASS_VERSION) {
    return badVersion("username/password request", bytes[0]!);
  }
  if (bytes.length < 2) return partial(2);
  const usernameEnd = 2 + bytes[1]!;
  if (bytes.length <= usernameEnd) {
    return partial(usernameEnd + 1 - bytes.length);
  }
  const end = usernameEnd + 1 + bytes[usernameEnd]!;
  if (bytes.length < end) return partial(end - bytes.length);
  return done({
    username: fromUtf8(bytes.subarray(2, usernameEnd)),
    password: fromUtf8(bytes.subarray(usernameEnd + 1, end)),
  }, end);
}

/**
 * Encodes a username/password request.
 *
 * @throws {RangeError} When the username is not 1–255 bytes of UTF-8 or the
 * password more than 255 (an empty password is allowed: some servers accept
 * a username alone).
 *
 * @example
 * ```ts
 * import { encodeUserPassRequest } from "./user_pass.ts";
 * console.log(encodeUserPassRequest({ username: "a", password: "b" })); // Uint8Array(5) [ 1, 1, 97, 1, 98 ]
 * ```
 */
export function encodeUserPassRequest(request: UserPassRequest): Uint8Array {
  const username = utf8(request.username);
  const password = utf8(request.password);
  if (username.length < 1 || username.length > 255) {
    throw new RangeError(
      `Cannot encode username/password request: username is ${username.length} bytes, not 1-255`,
    );
  }
  if (password.length > 255) {
    throw new RangeError(
      `Cannot encode username/password request: password is ${password.length} bytes, not 0-255`,
    );
  }
  const out = new Uint8Array(3 + username.length + password.length);
  out[0] = USER_PASS_VERSION;
  out[1] = username.length;
  out.set(username, 2);
  out[2 + username.length] = password.length;
  out.set(password, 3 + username.length);
  return out;
}

/**
 * Decodes a username/password reply.
 *
 * @example
 * ```ts
 * import { decodeUserPassReply } from "./user_pass.ts";
 * const result = decodeUserPassReply(new Uint8Array([1, 0]));
 * if (result.status === "done") console.log(result.value.status); // 0
 * ```
 */
export function decodeUserPassReply(bytes: Uint8Array): Decoded<UserPassReply> {
  if (bytes.length === 0) return partial(2);
  if (bytes[0] !== USER_PASS_VERSION) {
    return badVersion("username/password reply", bytes[0]!);
  }
  if (bytes.length === 1) return partial(1);
  return done({ status: bytes[1]! }, 2);
}

/**
 * Encodes a username/password reply; its version byte is 0x01, not 0x05.
 *
 * @throws {RangeError} When the status is not a byte.
 *
 * @example
 * ```ts
 * import { encodeUserPassReply } from "./user_pass.ts";
 * console.log(encodeUserPassReply({ status: 1 })); // Uint8Array(2) [ 1, 1 ]
 * ```
 */
export function encodeUserPassReply(reply: UserPassReply): Uint8Array {
  assertByte(reply.status, "username/password reply");
  return new Uint8Array([USER_PASS_VERSION, reply.status]);
}
