/**
 * Slows password guessing: a client address with too many failed logins in
 * a window is refused for a while, before any handshake byte is read.
 *
 * @module
 */

/**
 * Options of {@linkcode LoginThrottle}.
 *
 * @example
 * ```ts
 * import type { ThrottleOptions } from "./login_throttle.ts";
 * const options: ThrottleOptions = { failures: 5, window: 60_000, block: 300_000 };
 * ```
 */
export interface ThrottleOptions {
  /** Failures within `window` that block an address; 0 turns it off. */
  failures: number;
  /** Milliseconds the failures are counted over. */
  window: number;
  /** Milliseconds an address stays blocked. */
  block: number;
  /** The clock, for tests. */
  now?: () => number;
}

// Addresses remembered at most; the oldest entry goes first, so a flood of
// addresses costs bounded memory.
const MAX_ADDRESSES = 10_000;

/**
 * Failed logins per client address.
 *
 * @example
 * ```ts
 * import { LoginThrottle } from "./login_throttle.ts";
 * const throttle = new LoginThrottle({ failures: 2, window: 60_000, block: 60_000 });
 * throttle.failed("10.0.0.1");
 * throttle.failed("10.0.0.1");
 * console.log(throttle.isBlocked("10.0.0.1")); // true
 * ```
 */
export class LoginThrottle {
  #options: Required<ThrottleOptions>;
  // Per address: times of recent failures, and the end of a block.
  #entries = new Map<string, { failures: number[]; blockedUntil: number }>();

  constructor(options: ThrottleOptions) {
    this.#options = { now: Date.now, ...options };
  }

  /** Whether `ip` is refused now. */
  isBlocked(ip: string): boolean {
    const entry = this.#entries.get(ip);
    return entry !== undefined && entry.blockedUntil > this.#options.now();
  }

  /** Records a failed login; returns true when it starts a block. */
  failed(ip: string): boolean {
    const { failures, window, block, now } = this.#options;
    if (failures <= 0) return false;
    const time = now();
    let entry = this.#entries.get(ip);
    if (entry === undefined) {
      if (this.#entries.size >= MAX_ADDRESSES) {
        this.#entries.delete(this.#entries.keys().next().value!);
      }
      entry = { failures: [], blockedUntil: 0 };
      this.#entries.set(ip, entry);
    }
    entry.failures = entry.failures.filter((t) => t > time - window);
    entry.failures.push(time);
    if (entry.failures.length < failures) return false;
    entry.failures = [];
    entry.blockedUntil = time + block;
    return true;
  }

  /** Forgets failures of `ip` after a good login. */
  succeeded(ip: string): void {
    const entry = this.#entries.get(ip);
    if (entry !== undefined && entry.blockedUntil <= this.#options.now()) {
      this.#entries.delete(ip);
    }
  }
}
