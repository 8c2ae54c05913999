/**
 * The edgesocks version; `deno.json` and the npm package carry the same,
 * which a test checks.
 *
 * @example
 * ```ts
 * import { VERSION } from "./version.ts";
 * console.log(/^\d+\.\d+\.\d+/.test(VERSION)); // true
 * ```
 */
export const VERSION = "0.1.0";
