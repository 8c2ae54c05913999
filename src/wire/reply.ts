/**
 * The server's reply to a request (RFC 1928 §6). BIND gets two of them.
 *
 * ```
 * +----+-----+-------+------+----------+----------+
 * |VER | REP |  RSV  | ATYP | BND.ADDR | BND.PORT |
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
import { AddressType, Reply, SOCKS_VERSION } from "./constants.ts";
import { type Decoded, hex, invalid, partial } from "./result.ts";

/**
 * A decoded reply.
 *
 * @example
 * ```ts
 * import type { ReplyMessage } from "./reply.ts";
 * const reply: ReplyMessage = {
 *   reply: 0x00,
 *   bound: { type: 0x01, host: "127.0.0.1", port: 40000 },
 * };
 * ```
 */
export interface ReplyMessage {
  /** REP. */
  reply: Reply;
  /** BND.ADDR and BND.PORT. */
  bound: SocksAddress;
}

// `needed` must not overshoot: the shortest reply carries a one-byte domain,
// 3 + ATYP 1 + LEN 1 + 1 + PORT 2 bytes, not the 10 of an IPv4 one.
const MIN_LENGTH = 8;

/**
 * The bound address of a reply that has none to give: IPv4 0.0.0.0, port 0.
 *
 * @example
 * ```ts
 * import { NO_ADDRESS } from "./reply.ts";
 * console.log(NO_ADDRESS.host); // "0.0.0.0"
 * ```
 */
export const NO_ADDRESS: Readonly<SocksAddress> = Object.freeze({
  type: AddressType.IPv4,
  host: "0.0.0.0",
  port: 0,
});

/**
 * Decodes a reply. A REP outside 0x00–0x08 is a protocol error. A domain
 * BND.ADDR is accepted, as some servers send one.
 *
 * @example
 * ```ts
 * import { decodeReply } from "./reply.ts";
 * const result = decodeReply(new Uint8Array([5, 5, 0, 1, 0, 0, 0, 0, 0, 0]));
 * if (result.status === "done") console.log(result.value.reply); // 5
 * ```
 */
export function decodeReply(bytes: Uint8Array): Decoded<ReplyMessage> {
  if (bytes.length === 0) return partial(MIN_LENGTH);
  const version = bytes[0]!;
  if (version !== SOCKS_VERSION) {
    return invalid({
      code: "bad_version",
      message: `Cannot decode reply: version ${hex(version)} is not 0x05`,
      offset: 0,
      reply: null,
    });
  }
  if (bytes.length === 1) return partial(MIN_LENGTH - 1);
  const reply = bytes[1]!;
  if (reply > Reply.AddressTypeNotSupported) {
    return invalid({
      code: "unassigned_reply",
      message: `Cannot decode reply: reply code ${hex(reply)} is unassigned`,
      offset: 1,
      reply: null,
    });
  }
  if (bytes.length < 4) return partial(MIN_LENGTH - bytes.length);
  const address = decodeAddress(bytes, { offset: 3, frame: "reply" });
  if (address.status !== "done") return address;
  return {
    status: "done",
    value: { reply: reply as Reply, bound: address.value },
    bytesRead: address.bytesRead,
  };
}

/**
 * Encodes a reply; without `bound`, BND is IPv4 0.0.0.0 port 0, so even a
 * failure reply is the full frame clients expect.
 *
 * @throws {TypeError | RangeError} When the code or address cannot be
 * encoded.
 *
 * @example
 * ```ts
 * import { encodeReply } from "./reply.ts";
 * console.log(encodeReply({ reply: 0x05 })); // Uint8Array(10) [ 5, 5, 0, 1, 0, 0, 0, 0, 0, 0 ]
 * ```
 */
export function encodeReply(
  message: { reply: Reply; bound?: SocksAddress },
): Uint8Array {
  const { reply, bound = NO_ADDRESS } = message;
  if (!Number.isInteger(reply) || reply < 0 || reply > 8) {
    throw new RangeError(
      `Cannot encode reply: reply code ${reply} is not 0-8`,
    );
  }
  const out = new Uint8Array(3 + encodedAddressLength(bound));
  out[0] = SOCKS_VERSION;
  out[1] = reply;
  writeAddress(out, { offset: 3, address: bound });
  return out;
}
