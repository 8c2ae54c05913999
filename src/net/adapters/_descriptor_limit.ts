/**
 * The process's open-file limit, read from Linux's `/proc/self/limits`:
 * Node and Deno have no API for RLIMIT_NOFILE and Bun none public, but all
 * three read that file, and all three already raise the soft limit to the
 * hard one at start.
 *
 * @module
 */

import { readFile } from "node:fs/promises";

/**
 * The soft open-file limit from `/proc/self/limits` (Linux; every runtime
 * reads it), or `null` elsewhere.
 *
 * @example
 * ```ts
 * import { readDescriptorLimit } from "./_descriptor_limit.ts";
 * console.log(await readDescriptorLimit()); // 1024 under `ulimit -n 1024`
 * ```
 */
export async function readDescriptorLimit(): Promise<number | null> {
  try {
    const text = await readFile("/proc/self/limits", "utf8");
    return parseDescriptorLimit(text)?.soft ?? null;
  } catch {
    return null;
  }
}

/**
 * The soft and hard RLIMIT_NOFILE in the text of `/proc/self/limits`, or
 * `null` when the text has no such line. `Infinity` stands for unlimited.
 *
 * @example
 * ```ts
 * import { parseDescriptorLimit } from "./_descriptor_limit.ts";
 * const text = "Max open files            1024                 4096                 files\n";
 * console.log(parseDescriptorLimit(text)); // { soft: 1024, hard: 4096 }
 * ```
 */
export function parseDescriptorLimit(
  text: string,
): { soft: number; hard: number } | null {
  const match = /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/m.exec(
    text,
  );
  if (match === null) return null;
  const value = (field: string) =>
    field === "unlimited" ? Infinity : Number(field);
  return { soft: value(match[1]!), hard: value(match[2]!) };
}
