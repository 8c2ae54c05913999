/**
 * What is wrong with one value, before the caller knows where the value came
 * from (a flag token, a config key path). Never escapes `src/rules/`.
 *
 * @module
 */

import { RuleError } from "./rule_error.ts";

/** A value's problem without its context; {@linkcode inContext} adds that. */
export class Problem extends Error {
  constructor(detail: string) {
    super(detail);
    this.name = "Problem";
  }
}

/** Runs `parse`, turning a {@linkcode Problem} into `RuleError("CONTEXT: detail")`. */
export function inContext<T>(context: string, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (error instanceof Problem) {
      throw new RuleError(`${context}: ${error.message}`);
    }
    throw error;
  }
}
