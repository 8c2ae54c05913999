/**
 * The ordered rule list and the safe defaults, deciding each request: the
 * first rule that matches decides, and a few destination ranges are denied
 * unless a rule naming them allows them.
 *
 * @module
 */

import type { Cidr } from "./cidr.ts";
import type { DestMatcher, Rule, RuleCommand } from "./rule.ts";
import { containsBytes, ipBytes, readCidr } from "./_ip.ts";
import { requestName } from "./_values.ts";

/**
 * How a {@linkcode RuleSet} is set up.
 *
 * @example
 * ```ts
 * import type { RuleSetOptions } from "./rule_set.ts";
 * const options: RuleSetOptions = { denyLoopback: true };
 * ```
 */
export interface RuleSetOptions {
  /**
   * Deny loopback destinations (127.0.0.0/8, ::1) unless a rule allows
   * them; set it when any listen address is not loopback, so a remote
   * client cannot reach services bound to the proxy's own loopback.
   */
  denyLoopback: boolean;
}

/**
 * One destination attempt to decide. The server asks once per candidate
 * address, right before dialling it, so a name that resolves to a denied
 * address (DNS rebinding) is caught.
 *
 * @example
 * ```ts
 * import type { RuleRequest } from "./rule_set.ts";
 * const request: RuleRequest = {
 *   client: "192.0.2.10", user: "alice", command: "connect",
 *   name: "example.com", address: "93.184.215.14", port: 443,
 * };
 * ```
 */
export interface RuleRequest {
  /** The client's IP. */
  client: string;
  /** The logged-in user; `null` without login. */
  user: string | null;
  /** The SOCKS command. */
  command: RuleCommand;
  /** The domain the client sent; `null` for an IP-literal request. */
  name: string | null;
  /**
   * The IP about to be dialled (or, for an IP-literal request, the one
   * sent); `null` when there is none, as for a BIND naming a domain.
   */
  address: string | null;
  /** The destination port. */
  port: number;
}

/**
 * The answer for a request: `rule` is the deciding rule's text, or
 * `default: allow` when none matched, or `default: KIND destination` for a
 * default denial; the access log names it.
 *
 * @example
 * ```ts
 * import type { RuleDecision } from "./rule_set.ts";
 * const decision: RuleDecision = { allow: false, rule: "default: link-local destination" };
 * ```
 */
export interface RuleDecision {
  /** Whether to serve the request; denied requests get reply 0x02. */
  allow: boolean;
  /** What decided. */
  rule: string;
}

/**
 * The answer at accept, before the handshake: `deny` refuses the
 * connection now, `allow` accepts it (request checks still apply), and
 * `undecided` accepts it and leaves the decision to the request. `rule` is
 * the deciding rule's text, `null` when undecided.
 *
 * @example
 * ```ts
 * import type { ClientDecision } from "./rule_set.ts";
 * const decision: ClientDecision = { verdict: "deny", rule: "deny client=203.0.113.0/24" };
 * ```
 */
export interface ClientDecision {
  /** What to do with the connection. */
  verdict: "allow" | "deny" | "undecided";
  /** The deciding rule's text; `null` when undecided. */
  rule: string | null;
}

/** A range denied by default, and the rule text its denials carry. */
interface DefaultDenial {
  cidr: Cidr;
  rule: string;
}

function denials(kind: string, ranges: string[]): DefaultDenial[] {
  const rule = `default: ${kind} destination`;
  return ranges.map((text) => ({ cidr: readCidr(text), rule }));
}

// Cloud metadata services listen on link-local (169.254.169.254); 0.0.0.0
// and :: dial this host on Linux; multicast and broadcast have no business
// going through a TCP or UDP relay.
const ALWAYS_DENIED: readonly DefaultDenial[] = [
  ...denials("link-local", ["169.254.0.0/16", "fe80::/10"]),
  ...denials("unspecified", ["0.0.0.0/8", "::/128"]),
  ...denials("multicast", ["224.0.0.0/4", "ff00::/8"]),
  ...denials("broadcast", ["255.255.255.255/32"]),
];

const LOOPBACK: readonly DefaultDenial[] = denials("loopback", [
  "127.0.0.0/8",
  "::1/128",
]);

/**
 * Decides connections and requests with an ordered list of rules.
 *
 * A request's decision is that of the first rule that matches. A deny
 * denies. Then, for CONNECT and UDP (not BIND, whose destination names the
 * expected peer, often 0.0.0.0), a destination address in a default-denied
 * range is denied, unless the first match is an allow rule with a `dest`
 * matcher (which, having matched, names this destination): `allow
 * user=alice` does not open cloud metadata to alice. Otherwise the request
 * is allowed, by the rule or by `default: allow`.
 *
 * A `dest` CIDR or IP matches the address; a host name or `.suffix` matches
 * the name. Addresses are compared with IPv4-mapped IPv6 as IPv4. An
 * address or client that is not IP text matches no CIDR (and so meets no
 * default denial); the server passes IPs.
 *
 * @example
 * ```ts
 * import { parseRule } from "./rule.ts";
 * import { RuleSet } from "./rule_set.ts";
 * const rules = new RuleSet([parseRule("deny", "port=25")], { denyLoopback: true });
 * const request = {
 *   client: "192.0.2.10", user: null, command: "connect" as const,
 *   name: "localhost", address: "127.0.0.1", port: 80,
 * };
 * console.log(rules.check(request)); // { allow: false, rule: "default: loopback destination" }
 * console.log(rules.check({ ...request, name: null, address: "192.0.2.1", port: 25 }));
 * // { allow: false, rule: "deny port=25" }
 * ```
 */
export class RuleSet {
  #rules: readonly Rule[];
  #defaults: readonly DefaultDenial[];

  /** Takes the rules in order and whether loopback destinations are denied by default. */
  constructor(rules: readonly Rule[], options: RuleSetOptions) {
    this.#rules = [...rules];
    this.#defaults = options.denyLoopback
      ? [...ALWAYS_DENIED, ...LOOPBACK]
      : ALWAYS_DENIED;
  }

  /** The rules, in order. */
  get rules(): readonly Rule[] {
    return this.#rules;
  }

  /**
   * Decides a client at accept, before a handshake byte is read. Walking
   * the rules in order: a matching rule with no matcher but `client`
   * decides; a rule with other matchers that could match this client
   * cannot be decided yet, so the walk stops undecided; a rule whose
   * `client` excludes this client is skipped.
   *
   * @example
   * ```ts
   * import { parseRule } from "./rule.ts";
   * import { RuleSet } from "./rule_set.ts";
   * const rules = new RuleSet(
   *   [parseRule("deny", "client=203.0.113.0/24")],
   *   { denyLoopback: false },
   * );
   * console.log(rules.checkClient("203.0.113.9")); // { verdict: "deny", rule: "deny client=203.0.113.0/24" }
   * console.log(rules.checkClient("192.0.2.1")); // { verdict: "undecided", rule: null }
   * ```
   */
  checkClient(ip: string): ClientDecision {
    const client = ipBytes(ip);
    for (const rule of this.#rules) {
      if (rule.client !== undefined && !inAny(rule.client, client)) continue;
      const clientOnly = rule.user === undefined &&
        rule.command === undefined && rule.dest === undefined &&
        rule.port === undefined;
      if (!clientOnly) break;
      return { verdict: rule.action, rule: rule.text };
    }
    return { verdict: "undecided", rule: null };
  }

  /**
   * Decides one destination attempt of a request.
   *
   * @example
   * ```ts
   * import { parseRule } from "./rule.ts";
   * import { RuleSet } from "./rule_set.ts";
   * const rules = new RuleSet(
   *   [parseRule("allow", "dest=169.254.169.254 user=ops")],
   *   { denyLoopback: false },
   * );
   * const request = {
   *   client: "10.0.0.5", user: "ops", command: "connect" as const,
   *   name: null, address: "169.254.169.254", port: 80,
   * };
   * console.log(rules.check(request)); // { allow: true, rule: "allow dest=169.254.169.254 user=ops" }
   * console.log(rules.check({ ...request, user: "eve" })); // { allow: false, rule: "default: link-local destination" }
   * ```
   */
  check(request: RuleRequest): RuleDecision {
    const facts: Facts = {
      request,
      client: ipBytes(request.client),
      address: request.address === null ? null : ipBytes(request.address),
      name: request.name === null ? null : requestName(request.name),
    };
    const rule = this.#rules.find((candidate) => matches(candidate, facts));
    if (rule?.action === "deny") return { allow: false, rule: rule.text };
    const liftsDefaults = rule?.action === "allow" && rule.dest !== undefined;
    if (
      request.command !== "bind" && !liftsDefaults && facts.address !== null
    ) {
      const address = facts.address;
      const denial = this.#defaults.find((range) =>
        containsBytes(range.cidr, address)
      );
      if (denial !== undefined) return { allow: false, rule: denial.rule };
    }
    return { allow: true, rule: rule?.text ?? "default: allow" };
  }
}

/** A request with its addresses parsed and its name normalised once. */
interface Facts {
  request: RuleRequest;
  client: Uint8Array | null;
  address: Uint8Array | null;
  name: string | null;
}

function matches(rule: Rule, facts: Facts): boolean {
  const { request } = facts;
  return (rule.client === undefined || inAny(rule.client, facts.client)) &&
    (rule.user === undefined ||
      (request.user !== null && rule.user.includes(request.user))) &&
    (rule.command === undefined || rule.command.includes(request.command)) &&
    (rule.dest === undefined ||
      rule.dest.some((dest) => destMatches(dest, facts))) &&
    (rule.port === undefined ||
      rule.port.some((range) =>
        range.low <= request.port && request.port <= range.high
      ));
}

function inAny(ranges: readonly Cidr[], ip: Uint8Array | null): boolean {
  return ip !== null && ranges.some((cidr) => containsBytes(cidr, ip));
}

function destMatches(dest: DestMatcher, facts: Facts): boolean {
  const { name } = facts;
  switch (dest.kind) {
    case "cidr":
      return inAny([dest.cidr], facts.address);
    case "host":
      return name === dest.host;
    case "suffix":
      return name !== null &&
        (name === dest.suffix || name.endsWith(`.${dest.suffix}`));
  }
}
