/**
 * Cancellation for the client: one signal for a caller's `signal` and
 * `timeout` together, and waits that end when it aborts.
 *
 * @module
 */

/**
 * A combined signal and the functions that stop or fire it.
 *
 * @example
 * ```ts
 * import { deadline, type Deadline } from "./_abort.ts";
 * const limit: Deadline = deadline({}, "nothing");
 * limit.clear();
 * ```
 */
export interface Deadline {
  /** Aborts when the caller's signal does or the time is up. */
  signal: AbortSignal;
  /** Stops the timer and the link to the caller's signal. */
  clear(): void;
  /** Aborts now, with `reason`. */
  abort(reason: unknown): void;
}

/**
 * Links `options.signal` and, when `options.timeout` is a number, a timer
 * that aborts with a `TimeoutError` naming `what`.
 *
 * @example
 * ```ts
 * import { deadline } from "./_abort.ts";
 * const { signal, clear } = deadline({ timeout: 1000 }, "connecting");
 * console.log(signal.aborted); // false
 * clear();
 * ```
 */
export function deadline(
  options: { signal?: AbortSignal | undefined; timeout?: number | undefined },
  what: string,
): Deadline {
  const { signal, timeout } = options;
  const controller = new AbortController();
  const onAbort = () => controller.abort(signal!.reason);
  if (signal?.aborted) onAbort();
  else signal?.addEventListener("abort", onAbort, { once: true });
  let timer: ReturnType<typeof setTimeout> | undefined;
  if (timeout !== undefined) {
    if (!(timeout >= 0 && timeout <= 2 ** 31 - 1)) {
      throw new RangeError(
        `Invalid option timeout: ${timeout} is not 0-${2 ** 31 - 1} ms`,
      );
    }
    timer = setTimeout(() => {
      const error = new Error(
        `Cannot finish ${what}: timed out after ${timeout} ms`,
      );
      error.name = "TimeoutError";
      controller.abort(error);
    }, timeout);
  }
  return {
    signal: controller.signal,
    clear() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    },
    abort: (reason) => controller.abort(reason),
  };
}

/**
 * Settles like `promise`, or rejects with the signal's reason as soon as
 * it aborts (what `promise` does later is ignored).
 *
 * @example
 * ```ts
 * import { untilAborted } from "./_abort.ts";
 * console.log(await untilAborted(Promise.resolve(1), undefined)); // 1
 * ```
 */
export function untilAborted<T>(
  promise: Promise<T>,
  signal: AbortSignal | undefined,
): Promise<T> {
  if (signal === undefined) return promise;
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    if (signal.aborted) return onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() =>
      signal.removeEventListener("abort", onAbort)
    );
  });
}
