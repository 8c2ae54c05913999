/**
 * Access rules: parse `--allow` / `--deny` rules and configuration rules,
 * and decide connections and requests with them. Pure and synchronous: no
 * I/O, no clock.
 *
 * ```ts
 * import { parseRule, RuleSet } from "./mod.ts";
 * const rules = new RuleSet(
 *   [parseRule("deny", "dest=10.0.0.0/8 port=22"), parseRule("allow", "user=alice")],
 *   { denyLoopback: true },
 * );
 * console.log(rules.check({
 *   client: "192.0.2.7", user: "alice", command: "connect",
 *   name: "example.com", address: "93.184.215.14", port: 443,
 * })); // { allow: true, rule: "allow user=alice" }
 * ```
 *
 * @module
 */
export * from "./cidr.ts";
export * from "./rule.ts";
export * from "./rule_config.ts";
export * from "./rule_error.ts";
export * from "./rule_set.ts";
