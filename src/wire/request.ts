/**
 * The client's request: what to do and where (RFC 1928 §4).
 *
 * ```
 * +----+-----+-------+------+----------+----------+
 * |VER | CMD |  RSV  | ATYP | DST.ADDR | DST.PORT |
 * +----+-----+-------+------+----------+----------+
 * | 1  |  1  | X'00' |  1   | Variable |    2     |
 * +----+-----+-------+------+----------+----------+
 * ```
 *
 * @module
 */

import {
  decodeAddress,
  encodedAddressLength,
  type SocksAddress,
  writeAddress,
} from "./address.ts";
import { Command, Reply, SOCKS_VERSION } from "./constants.ts";
import { type Decoded, hex, invalid, partial } from "./result.ts";

/**
 * A decoded request.
 *
 * @example
 * ```ts
 * import type { Request } from "./request.ts";
 * const request: Request = {
 *   command: 0x01,
 *   destination: { type: 0x03, host: "example.com", port: 443 },
 * };
 * ```
 */
export interface Request {
  /** CONNECT, BIND or UDP ASSOCIATE. */
  command: Command;
  /** DST.ADDR and DST.PORT. */
  destination: SocksAddress;
}

// `needed` must not overshoot: the shortest request carries a one-byte domain,
// 3 + ATYP 1 + LEN 1 + 1 + PORT 2 bytes, not the 10 of an IPv4 one.
const MIN_LENGTH = 8;

const commands: ReadonlySet<number> = new Set(Object.values(Command));

/**
 * Decodes a request. An unknown command or address type is reported as soon
 * as its byte arrives, with the reply (0x07, 0x08) the server owes for it.
 * RSV is not checked: RFC 1928 fixes it at zero, but refusing a client over
 * it would help no one.
 *
 * @example
 * ```ts
 * import { decodeRequest } from "./request.ts";
 * const result = decodeRequest(new Uint8Array([5, 1, 0, 1, 127, 0, 0, 1, 0, 80]));
 * if (result.status === "done") console.log(result.value.destination.port); // 80
 * ```
 */
export function decodeRequest(bytes: Uint8Array): Decoded<Request> {
  if (bytes.length === 0) return partial(MIN_LENGTH);
  const version = bytes[0]!;
  if (version !== SOCKS_VERSION) {
    return invalid({
      code: "bad_version",
      message: `Cannot decode request: version ${hex(version)} is not 0x05`,
      offset: 0,
      reply: Reply.GeneralFailure,
    });
  }
  if (bytes.length === 1) return partial(MIN_LENGTH - 1);
  const command = bytes[1]!;
  if (!commands.has(command)) {
    return invalid({
      code: "unsupported_command",
      message: `Cannot decode request: command ${
        hex(command)
      } is not supported`,
      offset: 1,
      reply: Reply.CommandNotSupported,
    });
  }
  if (bytes.length < 4) return partial(MIN_LENGTH - bytes.length);
  const address = decodeAddress(bytes, { offset: 3, frame: "request" });
  if (address.status !== "done") return address;
  return {
    status: "done",
    value: { command: command as Command, destination: address.value },
    bytesRead: address.bytesRead,
  };
}

/**
 * Encodes a request.
 *
 * @throws {TypeError | RangeError} When the command or destination cannot
 * be encoded.
 *
 * @example
 * ```ts
 * import { encodeRequest } from "./request.ts";
 * const bytes = encodeRequest({
 *   command: 0x01,
 *   destination: { type: 0x01, host: "127.0.0.1", port: 80 },
 * });
 * console.log(bytes.length); // 10
 * ```
 */
export function encodeRequest(request: Request): Uint8Array {
  if (!commands.has(request.command)) {
    throw new TypeError(
      `Cannot encode request: command ${hex(request.command)} is not supported`,
    );
  }
  const out = new Uint8Array(3 + encodedAddressLength(request.destination));
  out[0] = SOCKS_VERSION;
  out[1] = request.command;
  writeAddress(out, { offset: 3, address: request.destination });
  return out;
}
