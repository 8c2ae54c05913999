/**
 * IP parsing and prefix tests shared by the rule parser and the rule set.
 * Every address is compared in its normalised form, IPv4-mapped IPv6
 * (`::ffff:a.b.c.d`) as plain IPv4, so a mapped spelling cannot slip past an
 * IPv4 rule or default.
 *
 * @module
 */

import { AddressType } from "../wire/constants.ts";
import { parseIPv4, parseIPv6, toSocksAddress } from "../wire/address.ts";
import { Problem } from "./_problem.ts";

/**
 * An address range. An IPv4-mapped IPv6 range of prefix 96 or more
 * (`::ffff:10.0.0.0/104`) is stored as the IPv4 range it covers
 * (`10.0.0.0/8`), because addresses are compared with mapped IPv6 as IPv4.
 *
 * @example
 * ```ts
 * import { type Cidr, parseCidr } from "./cidr.ts";
 * const cidr: Cidr = parseCidr("10.0.0.0/8");
 * console.log(cidr.family, cidr.prefix, cidr.text); // 4 8 "10.0.0.0/8"
 * ```
 */
export interface Cidr {
  /** 4 or 6, after mapped ranges become IPv4. */
  readonly family: 4 | 6;
  /** The network address, 4 or 16 bytes, host bits cleared. */
  readonly bytes: Uint8Array;
  /** How many leading bits must match: 0–32 or 0–128. */
  readonly prefix: number;
  /** The text as written, for logs and error messages. */
  readonly text: string;
}

/**
 * The 4 or 16 bytes of IP text from a request, IPv4-mapped IPv6 as 4 bytes;
 * `null` when the text is not an IP. A zone id (`fe80::1%eth0`) is dropped:
 * the address is still link-local and must still meet the rules.
 */
export function ipBytes(text: string): Uint8Array | null {
  const unzoned = text.includes(":") ? text.replace(/%.*$/, "") : text;
  const address = toSocksAddress(unzoned, 0);
  if (address.type === AddressType.IPv4) return parseIPv4(address.host);
  if (address.type === AddressType.IPv6) return parseIPv6(address.host);
  return null;
}

/** Parses `IP/PREFIX` or a bare IP (a /32 or /128); throws a {@linkcode Problem}. */
export function readCidr(text: string): Cidr {
  const slash = text.indexOf("/");
  const host = slash === -1 ? text : text.slice(0, slash);
  const v4 = parseIPv4(host);
  const v6 = v4 === null ? parseIPv6(host) : null;
  const bytes = v4 ?? v6;
  if (bytes === null) {
    throw new Problem(
      slash === -1
        ? `"${text}" is not an IP address or CIDR`
        : `"${host}" is not an IPv4 or IPv6 address`,
    );
  }
  const bits = bytes.length * 8;
  let prefix = bits;
  if (slash !== -1) {
    const digits = text.slice(slash + 1);
    if (!/^[0-9]+$/.test(digits)) {
      throw new Problem(`prefix "${digits}" is not a number`);
    }
    prefix = Number(digits);
    if (prefix > bits) {
      throw new Problem(`prefix ${digits} is longer than ${bits}`);
    }
  }
  // Requests are compared as plain IPv4 when mapped, so a mapped range that
  // covers only mapped addresses is stored as the IPv4 range it stands for.
  if (
    v6 !== null && prefix >= 96 &&
    toSocksAddress(host, 0).type === AddressType.IPv4
  ) {
    return network(v6.slice(12), prefix - 96, text);
  }
  return network(bytes, prefix, text);
}

function network(bytes: Uint8Array, prefix: number, text: string): Cidr {
  const masked = bytes.slice();
  for (let bit = prefix; bit < masked.length * 8; bit++) {
    masked[bit >> 3]! &= ~(0x80 >> (bit & 7));
  }
  return { family: masked.length === 4 ? 4 : 6, bytes: masked, prefix, text };
}

/** Whether normalised address bytes (from {@linkcode ipBytes}) fall in a CIDR. */
export function containsBytes(cidr: Cidr, bytes: Uint8Array): boolean {
  if (bytes.length !== cidr.bytes.length) return false;
  const whole = cidr.prefix >> 3;
  for (let i = 0; i < whole; i++) {
    if (bytes[i] !== cidr.bytes[i]) return false;
  }
  const rest = cidr.prefix & 7;
  if (rest === 0) return true;
  const mask = (0xff00 >> rest) & 0xff;
  return (bytes[whole]! & mask) === cidr.bytes[whole];
}
