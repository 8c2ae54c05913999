/**
 * The one error every access-rule mistake becomes.
 *
 * @module
 */

/**
 * A mistake in an access rule, from a flag or the configuration file. The
 * message names the offending token or key path and what is wrong, so the
 * CLI can print it as it is.
 *
 * @example
 * ```ts
 * import { RuleError } from "./rule_error.ts";
 * const error = new RuleError('rules[2].port: "70000" is not a port or range');
 * console.log(error.name, error instanceof Error); // "RuleError" true
 * ```
 */
export class RuleError extends Error {
  /** Takes the whole message, offending token or key path first. */
  constructor(message: string) {
    super(message);
    this.name = "RuleError";
  }
}
