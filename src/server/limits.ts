/**
 * Caps on concurrent use: connections (in all, per client address, per
 * user), handshakes in progress, and BIND and UDP associations per user.
 *
 * @module
 */

/**
 * What a {@linkcode Limits} counts. Zero means no limit.
 *
 * @example
 * ```ts
 * import type { LimitOptions } from "./limits.ts";
 * const limits: LimitOptions = { maxConnections: 10_000, maxConnectionsPerClient: 100 };
 * ```
 */
export interface LimitOptions {
  /** Connections at once, in all. */
  maxConnections?: number;
  /** Connections at once from one client IP address. */
  maxConnectionsPerClient?: number;
  /** Requests being served at once for one user. */
  maxConnectionsPerUser?: number;
  /** Clients at once that have not finished their handshake. */
  maxPendingHandshakes?: number;
  /**
   * Clients at once in their handshake from one client address (an IPv6
   * one counted per prefix, see `clientIpv6Prefix`).
   */
  maxPendingHandshakesPerClient?: number;
  /** BIND requests being served at once for one user. */
  maxBindsPerUser?: number;
  /** UDP associations at once for one user. */
  maxUdpPerUser?: number;
}

/**
 * The limit names, as used in logs, metrics and {@linkcode Limits.acquire}.
 *
 * @example
 * ```ts
 * import { LIMIT_KINDS } from "./limits.ts";
 * console.log(LIMIT_KINDS.includes("maxConnections")); // true
 * ```
 */
export const LIMIT_KINDS = [
  "maxConnections",
  "maxConnectionsPerClient",
  "maxConnectionsPerUser",
  "maxPendingHandshakes",
  "maxPendingHandshakesPerClient",
  "maxBindsPerUser",
  "maxUdpPerUser",
] as const;
/** One of {@linkcode LIMIT_KINDS}. */
export type LimitKind = typeof LIMIT_KINDS[number];

/**
 * Counts holders per limit and key, and refuses one more than allowed.
 *
 * @example
 * ```ts
 * import { Limits } from "./limits.ts";
 * const limits = new Limits({ maxConnectionsPerClient: 1 });
 * const release = limits.acquire("maxConnectionsPerClient", "10.0.0.1");
 * console.log(limits.acquire("maxConnectionsPerClient", "10.0.0.1")); // null
 * release?.();
 * ```
 */
/**
 * What {@linkcode Limits.acquire} gives for a limit that is off: there is
 * nothing to give back.
 *
 * @example
 * ```ts
 * import { Limits, releaseNothing } from "./limits.ts";
 * const limits = new Limits({});
 * console.log(limits.acquire("maxConnections") === releaseNothing); // true
 * ```
 */
export const releaseNothing = (): void => {};

export class Limits {
  #max: Readonly<Record<LimitKind, number>>;
  #held = new Map<string, number>();

  constructor(options: LimitOptions) {
    this.#max = Object.fromEntries(
      LIMIT_KINDS.map((kind) => [kind, options[kind] ?? 0]),
    ) as Record<LimitKind, number>;
  }

  /**
   * Takes one place under `kind` for `key` (an address, a user; anything
   * for the global limits), or `null` when it is full. Call the returned
   * function once to give the place back. A limit that is off (0) counts
   * nothing: every tunnel would pay for the bookkeeping.
   */
  acquire(kind: LimitKind, key = ""): (() => void) | null {
    const max = this.#max[kind];
    if (max === 0) return releaseNothing;
    const id = `${kind}\0${key}`;
    const held = this.#held.get(id) ?? 0;
    if (held >= max) return null;
    this.#held.set(id, held + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = this.#held.get(id)! - 1;
      if (left === 0) this.#held.delete(id);
      else this.#held.set(id, left);
    };
  }

  /** Places held now under `kind` for `key`; 0 while the limit is off. */
  held(kind: LimitKind, key = ""): number {
    return this.#held.get(`${kind}\0${key}`) ?? 0;
  }
}
