/**
 * The descriptor budget: how many clients the server takes at once so
 * that, in normal operation, it refuses the next one cleanly rather than
 * running into EMFILE. Every client holds its own socket and, while it is
 * served, at most two more: a CONNECT tunnel or a UDP association two in
 * all, a BIND three (its listener and the peer it accepts). A fixed
 * reserve covers the listeners, stdio, the log, the runtime's own
 * descriptors (event loop, threads) and name lookups in flight.
 *
 * @module
 */

/** Descriptors each client may hold at worst (BIND). */
export const DESCRIPTORS_PER_CLIENT = 3;

/** Descriptors kept back for everything but clients, listeners aside. */
export const RESERVED_DESCRIPTORS = 64;

/**
 * The budget derived from `limit` open files with `listeners` listening
 * sockets: the reserve, and the clients the rest allows (at least 1).
 * An unlimited `limit` gives `maxConnections: 0`, no cap.
 *
 * @example
 * ```ts
 * import { descriptorBudget } from "./descriptors.ts";
 * console.log(descriptorBudget(1024, 1).maxConnections); // 319
 * ```
 */
export function descriptorBudget(
  limit: number,
  listeners: number,
): { reserved: number; maxConnections: number } {
  const reserved = RESERVED_DESCRIPTORS + listeners;
  if (!Number.isFinite(limit)) return { reserved, maxConnections: 0 };
  const maxConnections = Math.max(
    1,
    Math.floor((limit - reserved) / DESCRIPTORS_PER_CLIENT),
  );
  return { reserved, maxConnections };
}
