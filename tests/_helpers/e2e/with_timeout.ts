/**
 * Bounds on every wait: an end-to-end test that awaits a promise that never
 * settles hangs (and on Node 20 cancels its whole file), so each wait names
 * what it waited for and gives up after a deadline.
 *
 * @module
 */

/**
 * Settles like `promise`, or rejects after `ms` with an error naming `what`.
 *
 * @example
 * ```ts
 * import { withTimeout } from "./with_timeout.ts";
 * const value = await withTimeout(Promise.resolve(1), 100, "a resolved promise");
 * console.log(value); // 1
 * ```
 */
export function withTimeout<T>(
  promise: Promise<T>,
  ms: number,
  what: string,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`Timed out after ${ms} ms: ${what}`)),
      ms,
    );
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}

/**
 * Resolves after `ms`.
 *
 * @example
 * ```ts
 * import { delay } from "./with_timeout.ts";
 * await delay(10);
 * ```
 */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Polls `check` every 10 ms until it returns true; rejects after `ms` with
 * an error naming `what`.
 *
 * @example
 * ```ts
 * import { eventually } from "./with_timeout.ts";
 * const started = Date.now();
 * await eventually(() => Date.now() - started >= 20, 1000, "20 ms to pass");
 * ```
 */
export async function eventually(
  check: () => boolean,
  ms: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() >= deadline) {
      throw new Error(`Timed out after ${ms} ms: ${what}`);
    }
    await delay(10);
  }
}
