/**
 * Addresses on the wire (ATYP, ADDR, PORT) and in text: IPv4 and IPv6
 * parsing and RFC 5952 formatting, and `host:port` / `[v6]:port` strings.
 *
 * @module
 */

import { fromUtf8, utf8 } from "../bytes.ts";
import { AddressType, Reply } from "./constants.ts";
import { type Decoded, done, hex, invalid, partial } from "./result.ts";

/**
 * A host and port as SOCKS carries them. `host` is dotted IPv4, RFC 5952
 * IPv6 text, or a domain name, as `type` says.
 *
 * @example
 * ```ts
 * import type { SocksAddress } from "./address.ts";
 * const target: SocksAddress = { type: 0x03, host: "example.com", port: 443 };
 * ```
 */
export interface SocksAddress {
  /** How the host is encoded on the wire. */
  type: AddressType;
  /** Dotted IPv4, canonical IPv6 text, or a domain name. */
  host: string;
  /** 0–65535. */
  port: number;
}

/**
 * A host and port without a wire type, as used in configuration.
 *
 * @example
 * ```ts
 * import type { HostPort } from "./address.ts";
 * const listen: HostPort = { host: "::1", port: 1080 };
 * ```
 */
export interface HostPort {
  /** IPv4 or IPv6 text (no brackets), or a name. */
  host: string;
  /** 0–65535. */
  port: number;
}

/**
 * Parses dotted-quad IPv4 text into 4 bytes, or `null` when it is not one.
 * Leading zeros are refused: `010.0.0.1` means octal to some parsers.
 *
 * @example
 * ```ts
 * import { parseIPv4 } from "./address.ts";
 * console.log(parseIPv4("127.0.0.1")); // Uint8Array(4) [ 127, 0, 0, 1 ]
 * console.log(parseIPv4("256.0.0.1")); // null
 * ```
 */
export function parseIPv4(text: string): Uint8Array | null {
  // A character scan, not split and a regex per part: every connection
  // classifies several addresses, so this sits on the handshake's hot path.
  if (text.length < 7 || text.length > 15) return null;
  const bytes = new Uint8Array(4);
  let part = 0;
  let value = 0;
  let digits = 0;
  for (let i = 0; i <= text.length; i++) {
    const code = i < text.length ? text.charCodeAt(i) : 0x2e; // "." ends it
    if (code === 0x2e) {
      if (digits === 0 || part === 4) return null;
      bytes[part++] = value;
      value = 0;
      digits = 0;
    } else if (code >= 0x30 && code <= 0x39) {
      if (digits === 1 && value === 0) return null; // a leading zero
      value = value * 10 + code - 0x30;
      if (++digits > 3 || value > 255) return null;
    } else {
      return null;
    }
  }
  return part === 4 ? bytes : null;
}

/**
 * Parses IPv6 text (with `::` and an optional trailing dotted IPv4) into 16
 * bytes, or `null` when it is not one. Zone ids (`%eth0`) are refused.
 *
 * @example
 * ```ts
 * import { parseIPv6 } from "./address.ts";
 * console.log(parseIPv6("::1")?.[15]); // 1
 * console.log(parseIPv6("1::2::3")); // null
 * ```
 */
export function parseIPv6(text: string): Uint8Array | null {
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const compressed = halves.length === 2;
  // A trailing dotted IPv4 may only end the whole address.
  const head = parseGroups(halves[0]!, !compressed);
  const tail = compressed ? parseGroups(halves[1]!, true) : [];
  if (head === null || tail === null) return null;
  const missing = 8 - head.length - tail.length;
  if (compressed ? missing < 1 : missing !== 0) return null;
  const groups = [...head, ...new Array<number>(missing).fill(0), ...tail];
  const bytes = new Uint8Array(16);
  groups.forEach((group, i) => {
    bytes[i * 2] = group >> 8;
    bytes[i * 2 + 1] = group & 0xff;
  });
  return bytes;
}

function parseGroups(text: string, ipv4Last: boolean): number[] | null {
  if (text === "") return [];
  const parts = text.split(":");
  const groups: number[] = [];
  for (const [i, part] of parts.entries()) {
    if (ipv4Last && i === parts.length - 1 && part.includes(".")) {
      const v4 = parseIPv4(part);
      if (v4 === null) return null;
      groups.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
    } else if (/^[0-9a-fA-F]{1,4}$/.test(part)) {
      groups.push(parseInt(part, 16));
    } else {
      return null;
    }
  }
  return groups;
}

/**
 * Dotted-quad text of 4 bytes.
 *
 * @example
 * ```ts
 * import { formatIPv4 } from "./address.ts";
 * console.log(formatIPv4(new Uint8Array([10, 0, 0, 1]))); // "10.0.0.1"
 * ```
 */
export function formatIPv4(bytes: Uint8Array): string {
  return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
}

/**
 * RFC 5952 canonical text of 16 bytes: lower case, no leading zeros, the
 * longest run of two or more zero groups (the first of equals) as `::`, and
 * IPv4-mapped addresses as `::ffff:a.b.c.d`.
 *
 * @example
 * ```ts
 * import { formatIPv6, parseIPv6 } from "./address.ts";
 * console.log(formatIPv6(parseIPv6("2001:DB8:0:0:0:0:0:1")!)); // "2001:db8::1"
 * ```
 */
export function formatIPv6(bytes: Uint8Array): string {
  if (isIPv4Mapped(bytes)) return `::ffff:${formatIPv4(bytes.subarray(12))}`;
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!);
  let bestStart = -1;
  let bestLength = 1; // RFC 5952 §4.2.2: a single zero group is not shortened
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let end = i;
    while (end < 8 && groups[end] === 0) end++;
    if (end - i > bestLength) {
      bestStart = i;
      bestLength = end - i;
    }
    i = end;
  }
  const hexGroups = groups.map((group) => group.toString(16));
  if (bestStart === -1) return hexGroups.join(":");
  const head = hexGroups.slice(0, bestStart).join(":");
  const tail = hexGroups.slice(bestStart + bestLength).join(":");
  return `${head}::${tail}`;
}

function isIPv4Mapped(bytes: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (bytes[i] !== 0) return false;
  return bytes[10] === 0xff && bytes[11] === 0xff;
}

/**
 * Classifies host text as IPv4, IPv6 or a domain and canonicalises it. An
 * IPv4-mapped IPv6 address (`::ffff:1.2.3.4`, as Node reports IPv4 peers on
 * a dual-stack socket) becomes plain IPv4, so it goes on the wire as ATYP 1.
 *
 * @example
 * ```ts
 * import { toSocksAddress } from "./address.ts";
 * console.log(toSocksAddress("::ffff:127.0.0.1", 80)); // { type: 1, host: "127.0.0.1", port: 80 }
 * console.log(toSocksAddress("example.com", 443).type); // 3
 * ```
 */
export function toSocksAddress(host: string, port: number): SocksAddress {
  if (parseIPv4(host) !== null) {
    return { type: AddressType.IPv4, host, port };
  }
  const v6 = parseIPv6(host);
  if (v6 !== null) {
    return isIPv4Mapped(v6)
      ? { type: AddressType.IPv4, host: formatIPv4(v6.subarray(12)), port }
      : { type: AddressType.IPv6, host: formatIPv6(v6), port };
  }
  return { type: AddressType.Domain, host, port };
}

/**
 * Parses `host:port`, `[v6]:port` or `v6` with brackets, as written in
 * configuration and on the command line.
 *
 * @throws {TypeError} When the text is not of that form or the port is not
 * 0–65535.
 *
 * @example
 * ```ts
 * import { parseHostPort } from "./address.ts";
 * console.log(parseHostPort("[::1]:1080")); // { host: "::1", port: 1080 }
 * console.log(parseHostPort("127.0.0.1:0")); // { host: "127.0.0.1", port: 0 }
 * ```
 */
export function parseHostPort(text: string): HostPort {
  const match = /^\[([^\]]+)\]:([0-9]+)$/.exec(text) ??
    /^([^:\[\]]+):([0-9]+)$/.exec(text);
  if (match === null) {
    throw new TypeError(
      `Cannot parse address: "${text}" is not HOST:PORT or [IPV6]:PORT`,
    );
  }
  const host = match[1]!;
  if (text.startsWith("[") && parseIPv6(host) === null) {
    throw new TypeError(
      `Cannot parse address: "${host}" in brackets is not an IPv6 address`,
    );
  }
  const port = Number(match[2]);
  if (port > 65535) {
    throw new TypeError(
      `Cannot parse address: port ${match[2]} is not in 0-65535`,
    );
  }
  return { host, port };
}

/**
 * Formats a host and port, bracketing IPv6.
 *
 * @example
 * ```ts
 * import { formatHostPort } from "./address.ts";
 * console.log(formatHostPort({ host: "::1", port: 1080 })); // "[::1]:1080"
 * ```
 */
export function formatHostPort(address: HostPort): string {
  return address.host.includes(":")
    ? `[${address.host}]:${address.port}`
    : `${address.host}:${address.port}`;
}

/**
 * Decodes ATYP, ADDR and PORT starting at `offset`. `bytesRead` and error
 * offsets count from the start of `bytes`; error messages name `frame`.
 *
 * ```
 * +------+----------+----------+
 * | ATYP |   ADDR   |   PORT   |
 * +------+----------+----------+
 * |  1   | Variable |    2     |
 * +------+----------+----------+
 * ```
 *
 * @example
 * ```ts
 * import { decodeAddress } from "./address.ts";
 * const result = decodeAddress(new Uint8Array([1, 127, 0, 0, 1, 0, 80]), { offset: 0 });
 * if (result.status === "done") console.log(result.value.host); // "127.0.0.1"
 * ```
 */
export function decodeAddress(
  bytes: Uint8Array,
  at: { offset: number; frame?: string },
): Decoded<SocksAddress> {
  const { offset, frame = "address" } = at;
  if (bytes.length <= offset) return partial(offset + 1 - bytes.length);
  const type = bytes[offset]!;
  let hostStart = offset + 1;
  let hostLength: number;
  switch (type) {
    case AddressType.IPv4:
      hostLength = 4;
      break;
    case AddressType.IPv6:
      hostLength = 16;
      break;
    case AddressType.Domain: {
      if (bytes.length <= hostStart) {
        return partial(hostStart + 1 - bytes.length);
      }
      hostLength = bytes[hostStart]!;
      if (hostLength === 0) {
        return invalid({
          code: "empty_domain",
          message: `Cannot decode ${frame}: domain name is empty`,
          offset: hostStart,
          reply: Reply.GeneralFailure,
        });
      }
      hostStart++;
      break;
    }
    default:
      return invalid({
        code: "unsupported_address_type",
        message: `Cannot decode ${frame}: address type ${
          hex(type)
        } is not supported`,
        offset,
        reply: Reply.AddressTypeNotSupported,
      });
  }
  const end = hostStart + hostLength + 2;
  if (bytes.length < end) return partial(end - bytes.length);
  const raw = bytes.subarray(hostStart, hostStart + hostLength);
  const host = type === AddressType.IPv4
    ? formatIPv4(raw)
    : type === AddressType.IPv6
    ? formatIPv6(raw)
    : fromUtf8(raw);
  const port = (bytes[end - 2]! << 8) | bytes[end - 1]!;
  return done({ type, host, port }, end);
}

/**
 * How many bytes {@linkcode writeAddress} writes for an address.
 *
 * @throws {TypeError | RangeError} As {@linkcode writeAddress}.
 *
 * @example
 * ```ts
 * import { encodedAddressLength } from "./address.ts";
 * console.log(encodedAddressLength({ type: 1, host: "10.0.0.1", port: 80 })); // 7
 * ```
 */
export function encodedAddressLength(address: SocksAddress): number {
  const lengthByte = address.type === AddressType.Domain ? 1 : 0;
  return 1 + lengthByte + hostBytes(address).length + 2;
}

/**
 * Writes ATYP, ADDR and PORT into `target` at `offset` and returns the
 * offset after them.
 *
 * @throws {TypeError} When the host does not match its type.
 * @throws {RangeError} When a domain is not 1–255 bytes or the port is not
 * an integer in 0–65535.
 *
 * @example
 * ```ts
 * import { writeAddress } from "./address.ts";
 * const out = new Uint8Array(7);
 * writeAddress(out, { offset: 0, address: { type: 1, host: "10.0.0.1", port: 80 } });
 * console.log(out); // Uint8Array(7) [ 1, 10, 0, 0, 1, 0, 80 ]
 * ```
 */
export function writeAddress(
  target: Uint8Array,
  at: { offset: number; address: SocksAddress },
): number {
  const { address } = at;
  let offset = at.offset;
  const host = hostBytes(address);
  target[offset++] = address.type;
  if (address.type === AddressType.Domain) target[offset++] = host.length;
  target.set(host, offset);
  offset += host.length;
  target[offset++] = address.port >> 8;
  target[offset++] = address.port & 0xff;
  return offset;
}

function hostBytes(address: SocksAddress): Uint8Array {
  if (
    !Number.isInteger(address.port) || address.port < 0 || address.port > 65535
  ) {
    throw new RangeError(
      `Cannot encode address: port ${address.port} is not an integer in 0-65535`,
    );
  }
  switch (address.type) {
    case AddressType.IPv4: {
      const bytes = parseIPv4(address.host);
      if (bytes === null) {
        throw new TypeError(
          `Cannot encode address: "${address.host}" is not an IPv4 address`,
        );
      }
      return bytes;
    }
    case AddressType.IPv6: {
      const bytes = parseIPv6(address.host);
      if (bytes === null) {
        throw new TypeError(
          `Cannot encode address: "${address.host}" is not an IPv6 address`,
        );
      }
      return bytes;
    }
    case AddressType.Domain: {
      const bytes = utf8(address.host);
      if (bytes.length < 1 || bytes.length > 255) {
        throw new RangeError(
          `Cannot encode address: domain is ${bytes.length} bytes, not 1-255`,
        );
      }
      return bytes;
    }
    default:
      throw new TypeError(
        `Cannot encode address: address type ${
          hex(address.type as number)
        } is not supported`,
      );
  }
}
