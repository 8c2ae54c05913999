/**
 * The PROXY protocol header a load balancer puts in front of a relayed
 * connection to name the client it came from (HAProxy's "The PROXY
 * protocol", versions 1 and 2). Version 1 is one line of text:
 *
 * ```
 * PROXY TCP4 192.0.2.7 198.51.100.1 56324 1080\r\n       (at most 107 bytes)
 * PROXY UNKNOWN\r\n
 * ```
 *
 * Version 2 is binary, told apart by its 12-byte signature:
 *
 * ```
 * +-----------+---------+--------+-----+-----------------+---------------+
 * | SIGNATURE | VER|CMD | FAM|TP | LEN | ADDRESSES       | TLVs          |
 * +-----------+---------+--------+-----+-----------------+---------------+
 * |    12     |    1    |   1    |  2  | 0 / 12 / 36 /216| LEN - ADDRESS |
 * +-----------+---------+--------+-----+-----------------+---------------+
 * ADDRESSES (INET, INET6): SRC ADDR | DST ADDR | SRC PORT (2) | DST PORT (2)
 * TLV: TYPE (1) | LENGTH (2) | VALUE (LENGTH)
 * ```
 *
 * @module
 */

import { fromUtf8 } from "../bytes.ts";
import {
  formatIPv4,
  formatIPv6,
  type HostPort,
  parseIPv4,
  parseIPv6,
} from "./address.ts";
import {
  type Decoded,
  done,
  hex,
  invalid,
  partial,
  type ProtocolError,
} from "./result.ts";

/**
 * The longest version 1 header, CRLF included (spec §2.1): a longer line
 * is refused at its 107th byte.
 *
 * @example
 * ```ts
 * import { PROXY_V1_MAX_LENGTH } from "./proxy_header.ts";
 * console.log(PROXY_V1_MAX_LENGTH); // 107
 * ```
 */
export const PROXY_V1_MAX_LENGTH = 107;

/**
 * The longest version 2 header this decoder takes: 16 fixed bytes and
 * 2,048 of addresses and TLVs. The wire allows 65,551; balancers send a
 * few hundred at most (addresses, ALPN, authority, a unique id, TLS
 * details), so a longer header is refused as soon as its length arrives.
 *
 * @example
 * ```ts
 * import { PROXY_V2_MAX_LENGTH } from "./proxy_header.ts";
 * console.log(PROXY_V2_MAX_LENGTH); // 2064
 * ```
 */
export const PROXY_V2_MAX_LENGTH: number = 16 + 2048;

/**
 * The 12 bytes that open a version 2 header (spec §2.2).
 *
 * @example
 * ```ts
 * import { PROXY_V2_SIGNATURE } from "./proxy_header.ts";
 * console.log(PROXY_V2_SIGNATURE.length); // 12
 * ```
 */
export const PROXY_V2_SIGNATURE: Uint8Array = new Uint8Array([
  0x0d,
  0x0a,
  0x0d,
  0x0a,
  0x00,
  0x0d,
  0x0a,
  0x51,
  0x55,
  0x49,
  0x54,
  0x0a,
]);

/**
 * Registered version 2 TLV types (spec §2.2.1–§2.2.7). Others are carried
 * through as they are.
 *
 * @example
 * ```ts
 * import { ProxyTlvType } from "./proxy_header.ts";
 * console.log(ProxyTlvType.UniqueId); // 5
 * ```
 */
export const ProxyTlvType = {
  Alpn: 0x01,
  Authority: 0x02,
  Crc32c: 0x03,
  Noop: 0x04,
  UniqueId: 0x05,
  Ssl: 0x20,
  Netns: 0x30,
} as const;
/** One of {@linkcode ProxyTlvType}'s values. */
export type ProxyTlvType = typeof ProxyTlvType[keyof typeof ProxyTlvType];

/**
 * One version 2 TLV.
 *
 * @example
 * ```ts
 * import type { ProxyTlv } from "./proxy_header.ts";
 * const tlv: ProxyTlv = { type: 0x02, value: new TextEncoder().encode("example.com") };
 * ```
 */
export interface ProxyTlv {
  /** The TYPE byte; see {@linkcode ProxyTlvType}. */
  type: number;
  /** The VALUE: a view into the decoded bytes, not a copy. */
  value: Uint8Array;
}

/**
 * A decoded PROXY header.
 *
 * - `command: "proxy"`: relayed for a client; `source` is that client and
 *   `destination` the address the client reached, or both are `null` when
 *   the header names none (v1 `UNKNOWN`, v2 `UNSPEC` or `UNIX`): the
 *   connection's own endpoints stand then.
 * - `command: "local"` (v2 only): the balancer's own connection, such as a
 *   health check; addresses are ignored and `null`.
 *
 * @example
 * ```ts
 * import type { ProxyHeader } from "./proxy_header.ts";
 * const header: ProxyHeader = {
 *   version: 2,
 *   command: "proxy",
 *   source: { host: "192.0.2.7", port: 56324 },
 *   destination: { host: "198.51.100.1", port: 1080 },
 *   tlvs: [],
 * };
 * ```
 */
export interface ProxyHeader {
  /** 1 (text) or 2 (binary). */
  version: 1 | 2;
  /** `proxy` for a relayed client, `local` for the balancer's own. */
  command: "proxy" | "local";
  /** The client, or `null` when the header names none. */
  source: HostPort | null;
  /** The address the client connected to, or `null` with `source`. */
  destination: HostPort | null;
  /** Version 2 TLVs in wire order; always empty for version 1. */
  tlvs: ProxyTlv[];
}

// The shortest header of either version: "PROXY UNKNOWN\r\n".
const MIN_LENGTH = 15;
const V1_PREFIX = "PROXY ";
const V1_PROTOCOLS = ["TCP4", "TCP6", "UNKNOWN"] as const;
const CR = 0x0d;
const LF = 0x0a;
const SPACE = 0x20;

/**
 * Decodes a PROXY header of either version, told apart by its first byte.
 * Bytes after `bytesRead` are the relayed connection's. A version 1 line is
 * checked as it arrives, so garbage is refused at its first wrong byte and
 * never read past 107 bytes; a version 2 header is refused as soon as its
 * length exceeds {@linkcode PROXY_V2_MAX_LENGTH}.
 *
 * @example
 * ```ts
 * import { decodeProxyHeader } from "./proxy_header.ts";
 * const line = new TextEncoder().encode("PROXY TCP4 192.0.2.7 198.51.100.1 56324 1080\r\n");
 * const result = decodeProxyHeader(line);
 * if (result.status === "done") console.log(result.value.source); // { host: "192.0.2.7", port: 56324 }
 * ```
 */
export function decodeProxyHeader(bytes: Uint8Array): Decoded<ProxyHeader> {
  if (bytes.length === 0) return partial(MIN_LENGTH);
  if (bytes[0] === PROXY_V2_SIGNATURE[0]) return decodeV2(bytes);
  if (bytes[0] === V1_PREFIX.charCodeAt(0)) return decodeV1(bytes);
  return notProxy(bytes[0]!, 0);
}

function notProxy(byte: number, offset: number): Decoded<never> {
  return invalid({
    code: "not_proxy_header",
    message: `Cannot decode PROXY header: byte ${
      hex(byte)
    } at offset ${offset} is not the PROXY signature`,
    offset,
    reply: null,
  });
}

function bad(message: string, offset: number): Decoded<never> {
  return invalid({
    code: "bad_proxy_header",
    message: `Cannot decode PROXY header: ${message}`,
    offset,
    reply: null,
  });
}

function tooLong(message: string, offset: number): Decoded<never> {
  const error: ProtocolError = {
    code: "proxy_header_too_long",
    message: `Cannot decode PROXY header: ${message}`,
    offset,
    reply: null,
  };
  return invalid(error);
}

// --- Version 1 ---------------------------------------------------------------

type V1Field = "protocol" | "source" | "destination" | "sourcePort" | "port";
const V1_FIELDS: readonly V1Field[] = [
  "protocol",
  "source",
  "destination",
  "sourcePort",
  "port",
];

// Spec §2.1: one left-to-right pass, so an error is found at the byte that
// makes it one, whatever the chunking.
function decodeV1(bytes: Uint8Array): Decoded<ProxyHeader> {
  const end = Math.min(bytes.length, PROXY_V1_MAX_LENGTH);
  for (let i = 1; i < Math.min(end, V1_PREFIX.length); i++) {
    if (bytes[i] !== V1_PREFIX.charCodeAt(i)) return notProxy(bytes[i]!, i);
  }
  let field = 0;
  let tokenStart = V1_PREFIX.length;
  let protocol = "";
  let unknownTail = false;
  let wantLf = false;
  const tokens: string[] = [];
  for (let i = V1_PREFIX.length; i < end; i++) {
    const byte = bytes[i]!;
    if (wantLf) {
      if (byte !== LF) return bad(`CR at offset ${i - 1} is not CRLF`, i);
      return v1Header(protocol, tokens, i + 1);
    }
    if (unknownTail) {
      // UNKNOWN: the rest of the line is ignored, but it still ends in CRLF.
      if (byte === CR) wantLf = true;
      else if (byte === LF) return bad(`LF at offset ${i} is not CRLF`, i);
      continue;
    }
    const name = V1_FIELDS[field]!;
    if (byte === SPACE || byte === CR) {
      const token = fromUtf8(bytes.subarray(tokenStart, i));
      const problem = v1TokenProblem(name, token, protocol, byte === CR);
      if (problem !== null) return bad(problem, i);
      tokens.push(token);
      if (name === "protocol") protocol = token;
      if (byte === CR) wantLf = true;
      else if (protocol === "UNKNOWN") unknownTail = true;
      field++;
      tokenStart = i + 1;
      continue;
    }
    const problem = v1ByteProblem(name, bytes.subarray(tokenStart, i + 1));
    if (problem !== null) return bad(`${problem} at offset ${i}`, i);
  }
  if (end === PROXY_V1_MAX_LENGTH) {
    return tooLong(
      `no CRLF in the first ${PROXY_V1_MAX_LENGTH} bytes of a version 1 line`,
      PROXY_V1_MAX_LENGTH - 1,
    );
  }
  return partial(wantLf ? 1 : Math.max(1, MIN_LENGTH - bytes.length));
}

// Whether `token`, ended by a space or (`atEnd`) CR, completes `field`.
function v1TokenProblem(
  field: V1Field,
  token: string,
  protocol: string,
  atEnd: boolean,
): string | null {
  if (token === "") return `empty ${field} field`;
  switch (field) {
    case "protocol":
      if (!(V1_PROTOCOLS as readonly string[]).includes(token)) {
        return `protocol ${token} is not TCP4, TCP6 or UNKNOWN`;
      }
      if (atEnd && token !== "UNKNOWN") return `the line ends after ${token}`;
      return null;
    case "source":
    case "destination": {
      if (atEnd) return `the line ends after the ${field} address`;
      const parsed = protocol === "TCP4" ? parseIPv4(token) : parseIPv6(token);
      return parsed === null
        ? `${token} is not an ${protocol === "TCP4" ? "IPv4" : "IPv6"} address`
        : null;
    }
    case "sourcePort":
      if (atEnd) return "the line ends after the source port";
      return Number(token) > 0xffff ? `port ${token} is over 65535` : null;
    case "port":
      if (!atEnd) return "a space follows the destination port";
      return Number(token) > 0xffff ? `port ${token} is over 65535` : null;
  }
}

// Whether the token so far, `token` (its last byte new), can still become
// a valid `field`.
function v1ByteProblem(field: V1Field, token: Uint8Array): string | null {
  const byte = token[token.length - 1]!;
  const char = String.fromCharCode(byte);
  switch (field) {
    case "protocol": {
      const text = fromUtf8(token);
      return V1_PROTOCOLS.some((name) => name.startsWith(text))
        ? null
        : `byte ${hex(byte)} is not in TCP4, TCP6 or UNKNOWN`;
    }
    case "source":
    case "destination":
      // The longest IPv6 text, 45 with a dotted IPv4 tail.
      if (token.length > 45) return "an address over 45 characters";
      return /^[0-9A-Fa-f:.]$/.test(char)
        ? null
        : `byte ${hex(byte)} is not in an address`;
    default:
      if (byte < 0x30 || byte > 0x39) return `byte ${hex(byte)} is not a digit`;
      // Spec §2.1: heading zeroes are not permitted.
      if (token.length > 1 && token[0] === 0x30) {
        return "a port with a leading 0";
      }
      return token.length > 5 ? "a port over 5 digits" : null;
  }
}

function v1Header(
  protocol: string,
  tokens: readonly string[],
  bytesRead: number,
): Decoded<ProxyHeader> {
  if (protocol === "UNKNOWN") {
    return done({
      version: 1,
      command: "proxy",
      source: null,
      destination: null,
      tlvs: [],
    }, bytesRead);
  }
  const [, source, destination, sourcePort, port] = tokens;
  const host = (text: string) =>
    protocol === "TCP4" ? text : formatIPv6(parseIPv6(text)!);
  return done({
    version: 1,
    command: "proxy",
    source: { host: host(source!), port: Number(sourcePort) },
    destination: { host: host(destination!), port: Number(port) },
    tlvs: [],
  }, bytesRead);
}

// --- Version 2 ---------------------------------------------------------------

// Address block sizes by family (spec §2.2): UNSPEC, INET, INET6, UNIX.
const ADDRESS_LENGTH = [0, 12, 36, 216] as const;

function decodeV2(bytes: Uint8Array): Decoded<ProxyHeader> {
  const signatureEnd = Math.min(bytes.length, PROXY_V2_SIGNATURE.length);
  for (let i = 1; i < signatureEnd; i++) {
    if (bytes[i] !== PROXY_V2_SIGNATURE[i]) return notProxy(bytes[i]!, i);
  }
  if (bytes.length < 13) return partial(16 - bytes.length);
  const versionCommand = bytes[12]!;
  if (versionCommand >> 4 !== 2) {
    return bad(`version ${versionCommand >> 4} is not 2`, 12);
  }
  const command = versionCommand & 0x0f;
  if (command > 1) {
    return bad(`command ${hex(command)} is not 0x00 or 0x01`, 12);
  }
  if (bytes.length < 14) return partial(16 - bytes.length);
  const familyTransport = bytes[13]!;
  const family = familyTransport >> 4;
  const transport = familyTransport & 0x0f;
  if (family > 3 || transport > 2) {
    return bad(
      `family and transport ${hex(familyTransport)} are not defined`,
      13,
    );
  }
  if (bytes.length < 16) return partial(16 - bytes.length);
  const length = (bytes[14]! << 8) | bytes[15]!;
  const total = 16 + length;
  if (total > PROXY_V2_MAX_LENGTH) {
    return tooLong(
      `a version 2 header of ${total} bytes is over ${PROXY_V2_MAX_LENGTH}`,
      15,
    );
  }
  // LOCAL ignores the family; UNSPEC on either nibble means no addresses.
  const hasAddresses = command === 1 && transport !== 0;
  const addressLength = hasAddresses ? ADDRESS_LENGTH[family] ?? 0 : 0;
  if (length < addressLength) {
    return bad(
      `address length ${length} is under ${addressLength} for family ${family}`,
      15,
    );
  }
  // Spec §2.2: LOCAL discards the whole block, TLVs included.
  const tlvs = command === 0
    ? []
    : decodeTlvs(bytes, { start: 16 + addressLength, end: total });
  if (!Array.isArray(tlvs)) return tlvs;
  if (bytes.length < total) return partial(total - bytes.length);
  const ip = family === 1 || family === 2;
  const addresses = hasAddresses && ip
    ? v2Addresses(bytes.subarray(16, 16 + addressLength), family)
    : { source: null, destination: null };
  return done({
    version: 2,
    command: command === 1 ? "proxy" : "local",
    ...addresses,
    tlvs,
  }, total);
}

function v2Addresses(
  block: Uint8Array,
  family: 1 | 2,
): { source: HostPort; destination: HostPort } {
  const size = family === 1 ? 4 : 16;
  const format = family === 1 ? formatIPv4 : formatIPv6;
  const ports = 2 * size;
  return {
    source: {
      host: format(block.subarray(0, size)),
      port: (block[ports]! << 8) | block[ports + 1]!,
    },
    destination: {
      host: format(block.subarray(size, ports)),
      port: (block[ports + 2]! << 8) | block[ports + 3]!,
    },
  };
}

// Walks the TLVs that have arrived, so one that overruns the header is
// refused as soon as its length bytes are in.
function decodeTlvs(
  bytes: Uint8Array,
  block: { start: number; end: number },
): ProxyTlv[] | Decoded<never> {
  const tlvs: ProxyTlv[] = [];
  let at = block.start;
  while (at < block.end) {
    if (block.end - at < 3) {
      if (at >= bytes.length) return tlvs;
      return bad(`${block.end - at} bytes at offset ${at} are not a TLV`, at);
    }
    if (at + 3 > bytes.length) return tlvs;
    const valueLength = (bytes[at + 1]! << 8) | bytes[at + 2]!;
    const next = at + 3 + valueLength;
    if (next > block.end) {
      return bad(
        `TLV ${
          hex(bytes[at]!)
        } of ${valueLength} bytes at offset ${at} overruns the header`,
        at + 2,
      );
    }
    if (next > bytes.length) return tlvs;
    tlvs.push({ type: bytes[at]!, value: bytes.subarray(at + 3, next) });
    at = next;
  }
  return tlvs;
}

// --- Encoding ----------------------------------------------------------------

/**
 * Encodes a PROXY header, as a balancer sends it: version 1 as
 * `PROXY TCP4|TCP6 …` (or `PROXY UNKNOWN` without addresses), version 2
 * as TCP over IPv4 or IPv6 (or UNSPEC without addresses, as `local` is
 * always sent) followed by `tlvs`.
 *
 * @throws {RangeError} When the addresses are not both IPv4 or both IPv6, a
 * port is not 0–65535, a TLV is not a byte type with at most 65,535 bytes,
 * or version 1 is asked for `local` or TLVs.
 *
 * @example
 * ```ts
 * import { encodeProxyHeader } from "./proxy_header.ts";
 * const bytes = encodeProxyHeader({
 *   version: 1,
 *   source: { host: "192.0.2.7", port: 56324 },
 *   destination: { host: "198.51.100.1", port: 1080 },
 * });
 * console.log(new TextDecoder().decode(bytes)); // "PROXY TCP4 192.0.2.7 198.51.100.1 56324 1080\r\n"
 * ```
 */
export function encodeProxyHeader(
  header: {
    version: 1 | 2;
    command?: "proxy" | "local";
    source: HostPort | null;
    destination: HostPort | null;
    tlvs?: readonly ProxyTlv[];
  },
): Uint8Array {
  const { version, command = "proxy", tlvs = [] } = header;
  const addresses = command === "local" ? null : encodeAddresses(header);
  if (version === 1) {
    if (command === "local" || tlvs.length > 0) {
      throw new RangeError(
        "Cannot encode PROXY header: version 1 has no LOCAL command or TLVs",
      );
    }
    const line = addresses === null
      ? "PROXY UNKNOWN\r\n"
      : `PROXY ${addresses.v4 ? "TCP4" : "TCP6"} ${addresses.text} ${
        header.source!.port
      } ${header.destination!.port}\r\n`;
    return new TextEncoder().encode(line);
  }
  let length = addresses === null ? 0 : addresses.ip.length + 4;
  for (const tlv of tlvs) {
    if (!Number.isInteger(tlv.type) || tlv.type < 0 || tlv.type > 255) {
      throw new RangeError(
        `Cannot encode PROXY header: TLV type ${tlv.type} is not a byte`,
      );
    }
    if (tlv.value.length > 0xffff) {
      throw new RangeError(
        `Cannot encode PROXY header: a TLV of ${tlv.value.length} bytes is over 65535`,
      );
    }
    length += 3 + tlv.value.length;
  }
  if (length > 0xffff) {
    throw new RangeError(
      `Cannot encode PROXY header: ${length} bytes after the header is over 65535`,
    );
  }
  const out = new Uint8Array(16 + length);
  out.set(PROXY_V2_SIGNATURE);
  out[12] = command === "local" ? 0x20 : 0x21;
  out[13] = addresses === null ? 0x00 : addresses.v4 ? 0x11 : 0x21;
  out[14] = length >> 8;
  out[15] = length & 0xff;
  let at = 16;
  if (addresses !== null) {
    out.set(addresses.ip, at);
    at += addresses.ip.length;
    for (const port of [header.source!.port, header.destination!.port]) {
      out[at++] = port >> 8;
      out[at++] = port & 0xff;
    }
  }
  for (const tlv of tlvs) {
    out[at] = tlv.type;
    out[at + 1] = tlv.value.length >> 8;
    out[at + 2] = tlv.value.length & 0xff;
    out.set(tlv.value, at + 3);
    at += 3 + tlv.value.length;
  }
  return out;
}

// Both addresses' bytes (source then destination) and their v1 text, or
// `null` for a header without addresses.
function encodeAddresses(
  header: { source: HostPort | null; destination: HostPort | null },
): { ip: Uint8Array; v4: boolean; text: string } | null {
  const { source, destination } = header;
  if (source === null && destination === null) return null;
  if (source === null || destination === null) {
    throw new RangeError(
      "Cannot encode PROXY header: give both addresses or neither",
    );
  }
  for (const { port } of [source, destination]) {
    if (!Number.isInteger(port) || port < 0 || port > 0xffff) {
      throw new RangeError(
        `Cannot encode PROXY header: port ${port} is not 0-65535`,
      );
    }
  }
  const ipv4 = [parseIPv4(source.host), parseIPv4(destination.host)];
  const ipv6 = [parseIPv6(source.host), parseIPv6(destination.host)];
  const pair = ipv4[0] && ipv4[1] ? ipv4 : ipv6[0] && ipv6[1] ? ipv6 : null;
  if (pair === null) {
    throw new RangeError(
      `Cannot encode PROXY header: ${source.host} and ${destination.host} are not both IPv4 or both IPv6`,
    );
  }
  const [from, to] = pair as [Uint8Array, Uint8Array];
  const ip = new Uint8Array(from.length * 2);
  ip.set(from);
  ip.set(to, from.length);
  const v4 = from.length === 4;
  const format = v4 ? formatIPv4 : formatIPv6;
  return { ip, v4, text: `${format(from)} ${format(to)}` };
}
