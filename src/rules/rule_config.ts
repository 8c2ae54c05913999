/**
 * Rules as the configuration file holds them: a string starting with the
 * action, or an object.
 *
 * @module
 */

import { inContext, Problem } from "./_problem.ts";
import { parseRuleLine, type Rule, type RuleAction } from "./rule.ts";
import { RuleError } from "./rule_error.ts";
import {
  MATCHER_KEYS,
  type MatcherField,
  type Matchers,
  matchersOf,
  readValue,
  splitItems,
} from "./_values.ts";

/**
 * Reads one rule from parsed configuration: a string such as
 * `"deny dest=10.0.0.0/8 port=22"`, or an object with `action` and any of
 * `client`, `user`, `cmd` (or `command`), `dest`, `port`, each a string or
 * an array (numbers too for `port`; strings may hold `a,b` lists). `path`
 * names the value in error messages. An object rule's text is rebuilt in
 * the one-line form, keys in the order written.
 *
 * @throws {RuleError} `PATH.KEY: PROBLEM` or `PATH.KEY[I]: PROBLEM`; for a
 * string, `PATH: ` before the message of {@linkcode parseRuleLine}.
 *
 * @example
 * ```ts
 * import { ruleFromConfig } from "./rule_config.ts";
 * const rule = ruleFromConfig(
 *   { action: "deny", dest: ["10.0.0.0/8"], port: [22, "8000-9000"] },
 *   "rules[0]",
 * );
 * console.log(rule.text); // "deny dest=10.0.0.0/8 port=22,8000-9000"
 * ```
 */
export function ruleFromConfig(value: unknown, path: string): Rule {
  if (typeof value === "string") {
    try {
      return parseRuleLine(value);
    } catch (error) {
      if (error instanceof RuleError) {
        throw new RuleError(`${path}: ${error.message}`);
      }
      throw error;
    }
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new RuleError(`${path}: expected a rule string or object`);
  }
  const action = inContext(`${path}.action`, () => {
    const written = (value as { action?: unknown }).action;
    const lower = typeof written === "string" ? written.toLowerCase() : written;
    if (lower !== "allow" && lower !== "deny") {
      throw new Problem(`expected "allow" or "deny"`);
    }
    return lower satisfies RuleAction;
  });
  const matchers: Matchers = {};
  const keys = new Map<MatcherField, string>();
  const words: string[] = [action];
  for (const [key, written] of Object.entries(value)) {
    if (key === "action") continue;
    const where = `${path}.${key}`;
    const field = inContext(where, () => {
      const field = MATCHER_KEYS.get(key);
      if (field === undefined) {
        throw new Problem(
          "unknown key, expected action, client, user, cmd, dest or port",
        );
      }
      const earlier = keys.get(field);
      if (earlier !== undefined) throw new Problem(`repeats "${earlier}"`);
      keys.set(field, key);
      return field;
    });
    const { values, text } = configValues(written, where, field);
    Object.assign(matchers, matchersOf(field, values));
    words.push(`${key}=${text.join(",")}`);
  }
  return { action, text: words.join(" "), ...matchers };
}

/** Reads a key's value: one item or a non-empty array of them. */
function configValues(
  value: unknown,
  path: string,
  field: MatcherField,
): { values: unknown[]; text: string[] } {
  const list: unknown[] = Array.isArray(value) ? value : [value];
  if (list.length === 0) throw new RuleError(`${path}: list is empty`);
  const values: unknown[] = [];
  const text: string[] = [];
  list.forEach((item, i) => {
    inContext(Array.isArray(value) ? `${path}[${i}]` : path, () => {
      const items = typeof item === "string"
        ? splitItems(item)
        : typeof item === "number" && field === "port"
        ? [item]
        : wrongType(field);
      values.push(...items.map((one) => readValue(field, one)));
      text.push(String(item));
    });
  });
  return { values, text };
}

function wrongType(field: MatcherField): never {
  throw new Problem(
    field === "port"
      ? "expected a port number, a string or an array of them"
      : "expected a string or an array of strings",
  );
}
