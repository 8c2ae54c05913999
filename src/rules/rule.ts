/**
 * Access rules and their one-line form, as `--allow RULE` / `--deny RULE`
 * and the configuration file write them.
 *
 * @module
 */

import type { Cidr } from "./cidr.ts";
import type { DestMatcher, PortRange, RuleCommand } from "./matcher.ts";
import { inContext, Problem } from "./_problem.ts";
import { RuleError } from "./rule_error.ts";
import {
  MATCHER_KEYS,
  type MatcherField,
  type Matchers,
  matchersOf,
  readValue,
  splitItems,
} from "./_values.ts";

export type { DestMatcher, PortRange, RuleCommand };

/**
 * What a rule does with the requests it matches.
 *
 * @example
 * ```ts
 * import type { RuleAction } from "./rule.ts";
 * const action: RuleAction = "deny";
 * ```
 */
export type RuleAction = "allow" | "deny";

/**
 * An allow or deny rule. It matches a request when every matcher it has
 * matches (a matcher matches when any of its values does); a rule with no
 * matchers matches everything.
 *
 * @example
 * ```ts
 * import { parseRule, type Rule } from "./rule.ts";
 * const rule: Rule = parseRule("deny", "dest=10.0.0.0/8 port=22");
 * console.log(rule.text, rule.port); // "deny dest=10.0.0.0/8 port=22" [ { low: 22, high: 22 } ]
 * ```
 */
export interface Rule {
  /** What a match does. */
  readonly action: RuleAction;
  /** The rule as written, starting with its action; access logs name it. */
  readonly text: string;
  /** Client addresses. */
  readonly client?: readonly Cidr[];
  /** Logged-in user names; never matches a client that did not log in. */
  readonly user?: readonly string[];
  /** SOCKS commands. */
  readonly command?: readonly RuleCommand[];
  /** Destination ranges, names and domain suffixes. */
  readonly dest?: readonly DestMatcher[];
  /** Destination ports. */
  readonly port?: readonly PortRange[];
}

/**
 * The `--help` text for rules: the grammar and the default denials.
 *
 * @example
 * ```ts
 * import { RULE_GRAMMAR } from "./rule.ts";
 * console.log(RULE_GRAMMAR.includes("dest=")); // true
 * ```
 */
export const RULE_GRAMMAR: string =
  `RULE is KEY=VALUE[,VALUE...] tokens separated by spaces; a request matches
a rule when every token matches (any listed value will do), and the first
matching rule decides: --allow/--deny flags in order, then the config file's
"rules". No match: allow. An empty rule ('') matches everything.
  client=CIDR|IP            client address: 10.0.0.0/8, 2001:db8::/32, ::1
  user=NAME                 logged-in user
  cmd=connect|bind|udp      SOCKS command
  dest=CIDR|IP|HOST|.DOMAIN destination: an address or range matches each
                            resolved address; .example.com matches
                            example.com and its subdomains (any case)
  port=PORT|LOW-HIGH        destination port: 22, 80,443, 8000-9000
CONNECT and UDP to 169.254.0.0/16, fe80::/10, 0.0.0.0/8, ::, 224.0.0.0/4,
ff00::/8 and 255.255.255.255 (and to 127.0.0.0/8, ::1 when listening beyond
loopback) are denied unless the deciding rule is an allow with dest=.
`;

/**
 * Parses the tokens of a rule, as given to `--allow` or `--deny`.
 *
 * @throws {RuleError} `Invalid rule "TOKEN": PROBLEM`.
 *
 * @example
 * ```ts
 * import { parseRule } from "./rule.ts";
 * const rule = parseRule("allow", "user=alice,bob dest=.example.com");
 * console.log(rule.user, rule.dest); // [ "alice", "bob" ] [ { kind: "suffix", suffix: "example.com" } ]
 * ```
 */
export function parseRule(action: RuleAction, text: string): Rule {
  const tokens = words(text);
  const matchers: Matchers = {};
  const keys = new Map<MatcherField, string>();
  for (const token of tokens) {
    inContext(`Invalid rule "${token}"`, () => {
      const equals = token.indexOf("=");
      const key = token.slice(0, Math.max(equals, 0));
      const field = MATCHER_KEYS.get(key);
      if (equals === -1 || field === undefined) {
        throw new Problem(
          `${
            equals === -1 ? "expected KEY=VALUE" : `unknown key "${key}"`
          }, KEY is client, user, cmd, dest or port`,
        );
      }
      const earlier = keys.get(field);
      if (earlier !== undefined) {
        throw new Problem(
          earlier === key
            ? `key "${key}" is given twice`
            : `key "${key}" repeats "${earlier}"`,
        );
      }
      keys.set(field, key);
      const items = splitItems(token.slice(equals + 1));
      const values = items.map((item) => readValue(field, item));
      Object.assign(matchers, matchersOf(field, values));
    });
  }
  return { action, text: [action, ...tokens].join(" "), ...matchers };
}

/**
 * Parses a rule that starts with its action, as the configuration file's
 * rule strings write it.
 *
 * @throws {RuleError} `Invalid rule "TOKEN": PROBLEM`.
 *
 * @example
 * ```ts
 * import { parseRuleLine } from "./rule.ts";
 * const rule = parseRuleLine("deny dest=10.0.0.0/8 port=22");
 * console.log(rule.action, rule.text); // "deny" "deny dest=10.0.0.0/8 port=22"
 * ```
 */
export function parseRuleLine(line: string): Rule {
  const [first = "", ...rest] = words(line);
  const action = first.toLowerCase();
  if (action !== "allow" && action !== "deny") {
    throw new RuleError(
      `Invalid rule "${first}": expected allow or deny first`,
    );
  }
  return parseRule(action, rest.join(" "));
}

/** Whitespace-separated tokens; none for blank text. */
function words(text: string): string[] {
  const trimmed = text.trim();
  return trimmed === "" ? [] : trimmed.split(/\s+/);
}
