/**
 * IPv4 and IPv6 address ranges in CIDR notation, for client and destination
 * rules.
 *
 * @module
 */

import { type Cidr, containsBytes, ipBytes, readCidr } from "./_ip.ts";
import { inContext } from "./_problem.ts";

export type { Cidr };

/**
 * Parses `IP/PREFIX`, or a bare IP meaning a single address (/32 or /128).
 * Host bits after the prefix are ignored: `10.1.2.3/8` is `10.0.0.0/8`.
 *
 * @throws {RuleError} `Invalid CIDR "TEXT": PROBLEM`.
 *
 * @example
 * ```ts
 * import { parseCidr } from "./cidr.ts";
 * console.log(parseCidr("2001:db8::/32").family); // 6
 * console.log(parseCidr("192.0.2.7").prefix); // 32
 * ```
 */
export function parseCidr(text: string): Cidr {
  return inContext(`Invalid CIDR "${text}"`, () => readCidr(text));
}

/**
 * Whether IP text falls in a range. IPv4-mapped IPv6 text is compared as
 * IPv4; text that is not an IP is in no range.
 *
 * @example
 * ```ts
 * import { cidrContains, parseCidr } from "./cidr.ts";
 * const metadata = parseCidr("169.254.0.0/16");
 * console.log(cidrContains(metadata, "169.254.169.254")); // true
 * console.log(cidrContains(metadata, "::ffff:169.254.169.254")); // true
 * console.log(cidrContains(metadata, "example.com")); // false
 * ```
 */
export function cidrContains(cidr: Cidr, ip: string): boolean {
  const bytes = ipBytes(ip);
  return bytes !== null && containsBytes(cidr, bytes);
}
