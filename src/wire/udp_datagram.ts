/**
 * A UDP ASSOCIATE datagram: the header that names the far end, then the
 * payload (RFC 1928 §7).
 *
 * ```
 * +----+------+------+----------+----------+----------+
 * |RSV | FRAG | ATYP | DST.ADDR | DST.PORT |   DATA   |
 * +----+------+------+----------+----------+----------+
 * | 2  |  1   |  1   | Variable |    2     | Variable |
 * +----+------+------+----------+----------+----------+
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
import { assertByte } from "./_assert.ts";
import { type Decoded, done, partial } from "./result.ts";

/**
 * A decoded UDP datagram.
 *
 * @example
 * ```ts
 * import type { UdpDatagram } from "./udp_datagram.ts";
 * const datagram: UdpDatagram = {
 *   frag: 0,
 *   destination: { type: 0x01, host: "127.0.0.1", port: 53 },
 *   data: new Uint8Array([1, 2, 3]),
 * };
 * ```
 */
export interface UdpDatagram {
  /** Fragment number; 0 for a whole datagram. */
  frag: number;
  /** Where the payload goes (client to server) or came from (the reverse). */
  destination: SocksAddress;
  /** The payload: a view into the decoded bytes, not a copy. */
  data: Uint8Array;
}

// The shortest datagram: RSV 2 + FRAG 1 + a one-byte domain (ATYP, LEN, 1,
// PORT 2) and no data.
const MIN_LENGTH = 8;

/**
 * Decodes a whole datagram. `partial` means it was cut short: a datagram
 * never grows, so the caller drops it. Non-zero FRAG is decoded, not
 * refused; a server that does not reassemble drops it (RFC 1928 §7 allows).
 *
 * @example
 * ```ts
 * import { decodeUdpDatagram } from "./udp_datagram.ts";
 * const result = decodeUdpDatagram(new Uint8Array([0, 0, 0, 1, 127, 0, 0, 1, 0, 53, 42]));
 * if (result.status === "done") console.log(result.value.data); // Uint8Array(1) [ 42 ]
 * ```
 */
export function decodeUdpDatagram(bytes: Uint8Array): Decoded<UdpDatagram> {
  if (bytes.length < 3) return partial(MIN_LENGTH - bytes.length);
  const address = decodeAddress(bytes, { offset: 3, frame: "UDP datagram" });
  if (address.status !== "done") return address;
  const data = bytes.subarray(address.bytesRead);
  return done(
    { frag: bytes[2]!, destination: address.value, data },
    bytes.length,
  );
}

/**
 * Encodes a datagram, header and payload, into one array of exact size.
 *
 * @throws {TypeError | RangeError} When FRAG is not a byte or the address
 * cannot be encoded.
 *
 * @example
 * ```ts
 * import { encodeUdpDatagram } from "./udp_datagram.ts";
 * const bytes = encodeUdpDatagram({
 *   frag: 0,
 *   destination: { type: 0x01, host: "127.0.0.1", port: 53 },
 *   data: new Uint8Array([42]),
 * });
 * console.log(bytes.length); // 11
 * ```
 */
export function encodeUdpDatagram(datagram: UdpDatagram): Uint8Array {
  assertByte(datagram.frag, "UDP datagram");
  const headerLength = 3 + encodedAddressLength(datagram.destination);
  const out = new Uint8Array(headerLength + datagram.data.length);
  out[2] = datagram.frag;
  writeAddress(out, { offset: 3, address: datagram.destination });
  out.set(datagram.data, headerLength);
  return out;
}
