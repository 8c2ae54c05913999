/**
 * The values a rule matches requests against: a command, a destination and
 * a port range. Shared by the rule, its parsers and the rule set.
 *
 * @module
 */

import type { Cidr } from "./cidr.ts";

/**
 * The SOCKS command a rule can match; `udp` is UDP ASSOCIATE.
 *
 * @example
 * ```ts
 * import type { RuleCommand } from "./matcher.ts";
 * const command: RuleCommand = "udp";
 * ```
 */
export type RuleCommand = "connect" | "bind" | "udp";

/**
 * One destination a rule names. A `cidr` (also a bare IP) matches the
 * address about to be dialled; a `host` or `suffix` matches the name the
 * client sent. Names are stored lower-case without a trailing dot; `suffix`
 * is stored without its leading dot and matches the domain itself and every
 * subdomain.
 *
 * @example
 * ```ts
 * import type { DestMatcher } from "./matcher.ts";
 * const internal: DestMatcher = { kind: "suffix", suffix: "corp.example" };
 * ```
 */
export type DestMatcher =
  | { readonly kind: "cidr"; readonly cidr: Cidr }
  | { readonly kind: "host"; readonly host: string }
  | { readonly kind: "suffix"; readonly suffix: string };

/**
 * Destination ports `low` to `high`, both included; one port has them equal.
 *
 * @example
 * ```ts
 * import type { PortRange } from "./matcher.ts";
 * const web: PortRange = { low: 8000, high: 9000 };
 * ```
 */
export interface PortRange {
  /** 0–65535. */
  readonly low: number;
  /** `low`–65535. */
  readonly high: number;
}
