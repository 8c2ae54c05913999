/**
 * Handshake slots shared fairly between client addresses: a client holds a
 * slot from accept until its request is decoded (or it fails), under a cap
 * per client (an IPv4 address, or an IPv6 prefix, /64 by default, since
 * one host usually owns a whole /64) and a cap in all.
 *
 * When every slot is taken, the oldest handshake loses its slot to a
 * newcomer (that client is closed) if the newcomer's address has finished
 * a handshake here before, or if that oldest handshake has waited for
 * more than a second; otherwise the newcomer is refused. Why:
 *
 * - An honest handshake takes milliseconds, so the oldest slot is the
 *   likeliest stall. Refusing every newcomer while the table is full
 *   would let a flood lock everyone out for a whole handshake timeout,
 *   again and again.
 * - But letting every newcomer evict turns a flood that reconnects at
 *   once into a churn that closes honest handshakes too: measured, 1 500
 *   stalls and garbage from 64 addresses reconnecting at 14 000 a second
 *   left 50 honest clients from 127.0.0.1 no completed handshake at all.
 *   Flood addresses do not finish handshakes, so addresses that have are
 *   let through first; newcomers from unknown addresses wait for a stall
 *   to age past the second of grace.
 * - The age, not the address holding most slots, picks the victim: the
 *   busiest address may be a NAT full of honest clients. The per-client
 *   cap keeps one address or one /64 from holding more than its share.
 *
 * The addresses that finished a handshake are remembered up to 4 096,
 * the least recent forgotten first.
 *
 * @module
 */

import { parseIPv6 } from "../wire/address.ts";

/**
 * Why {@linkcode PendingHandshakes.admit} turned a client away: the limit
 * it met, named as in the options.
 */
export type PendingRefusal =
  | "maxPendingHandshakesPerClient"
  | "maxPendingHandshakes";

/** How long a slot is safe from newcomers of unknown addresses, in ms. */
export const PENDING_GRACE = 1000;

/** How many addresses that finished a handshake are remembered. */
export const KNOWN_CLIENTS = 4096;

/**
 * The client keys that finished a handshake, the most recent
 * {@linkcode KNOWN_CLIENTS} of them: newcomers from these go first when
 * every slot is taken.
 */
export class KnownClients {
  readonly #keys = new Set<string>();

  has(key: string): boolean {
    return this.#keys.has(key);
  }

  /** Records `key` as the most recent; forgets the least recent past the cap. */
  remember(key: string): void {
    this.#keys.delete(key);
    this.#keys.add(key);
    if (this.#keys.size > KNOWN_CLIENTS) {
      this.#keys.delete(this.#keys.values().next().value!);
    }
  }
}

/**
 * The caps of a {@linkcode PendingHandshakes}; zero means no cap.
 *
 * @example
 * ```ts
 * import type { PendingOptions } from "./pending.ts";
 * const options: PendingOptions = { max: 1024, perClient: 64, ipv6Prefix: 64 };
 * ```
 */
export interface PendingOptions {
  /** Slots in all. */
  max: number;
  /** Slots of one client key. */
  perClient: number;
  /** Bits of an IPv6 address that make its client key (1-128). */
  ipv6Prefix: number;
  /** The clock, in ms; default `Date.now`. */
  now?: () => number;
}

interface Slot {
  readonly key: string;
  readonly since: number;
  readonly evict: () => void;
}

/**
 * Counts clients in their handshake per client key and in all, and
 * decides who gets a slot when they run out (see the module comment).
 *
 * @example
 * ```ts
 * import { PendingHandshakes } from "./pending.ts";
 * const pending = new PendingHandshakes({ max: 2, perClient: 1, ipv6Prefix: 64 });
 * const first = pending.admit("10.0.0.1", () => {});
 * console.log(pending.admit("10.0.0.1", () => {})); // { refused: "maxPendingHandshakesPerClient" }
 * if ("release" in first) first.release();
 * ```
 */
export class PendingHandshakes {
  readonly #options: PendingOptions;
  readonly #now: () => number;
  // Client keys that finished a handshake, least recent first.
  readonly #known = new KnownClients();
  // Every slot, oldest first (a Set iterates in insertion order).
  readonly #slots = new Set<Slot>();
  readonly #perKey = new Map<string, number>();

  constructor(options: PendingOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /** Slots held now, in all. */
  get size(): number {
    return this.#slots.size;
  }

  /** Slots held now by the key of `clientIp`. */
  held(clientIp: string): number {
    return this.#perKey.get(this.keyOf(clientIp)) ?? 0;
  }

  /** The client key of `clientIp`: itself, or its IPv6 prefix. */
  keyOf(clientIp: string): string {
    return clientKey(clientIp, this.#options.ipv6Prefix);
  }

  /**
   * Gives `clientIp` a slot, or names why not. `evict` is called (once)
   * if a newcomer takes this slot over; call `release` once the
   * handshake is over, evicted or not, with `true` if it succeeded.
   */
  admit(
    clientIp: string,
    evict: () => void,
  ):
    | { release: (succeeded?: boolean) => void }
    | { refused: PendingRefusal } {
    const { max, perClient } = this.#options;
    const key = this.keyOf(clientIp);
    const mine = this.#perKey.get(key) ?? 0;
    if (perClient > 0 && mine >= perClient) {
      return { refused: "maxPendingHandshakesPerClient" };
    }
    const now = this.#now();
    if (max > 0 && this.#slots.size >= max) {
      const oldest: Slot = this.#slots.values().next().value!;
      if (!this.#known.has(key) && now - oldest.since <= PENDING_GRACE) {
        return { refused: "maxPendingHandshakes" };
      }
      this.#remove(oldest);
      oldest.evict();
    }
    const slot: Slot = { key, since: now, evict };
    this.#slots.add(slot);
    this.#perKey.set(key, (this.#perKey.get(key) ?? 0) + 1);
    return {
      release: (succeeded = false) => {
        this.#remove(slot);
        if (succeeded) this.#known.remember(key);
      },
    };
  }

  #remove(slot: Slot): void {
    if (!this.#slots.delete(slot)) return;
    const left = this.#perKey.get(slot.key)! - 1;
    if (left === 0) this.#perKey.delete(slot.key);
    else this.#perKey.set(slot.key, left);
  }
}

/**
 * The key a client address is counted under: an IPv4 address as it is,
 * an IPv6 address cut to its first `ipv6Prefix` bits (IPv4-mapped IPv6
 * addresses count as the IPv4 address they carry).
 *
 * @example
 * ```ts
 * import { clientKey } from "./pending.ts";
 * console.log(clientKey("2001:db8:1:2:aaaa::1", 64)); // "2001:db8:1:2::/64"
 * ```
 */
export function clientKey(clientIp: string, ipv6Prefix: number): string {
  const bytes = clientIp.includes(":") ? parseIPv6(clientIp) : null;
  if (bytes === null) return clientIp;
  if (isIPv4Mapped(bytes)) return bytes.subarray(12).join(".");
  if (ipv6Prefix >= 128) return clientIp;
  const groups: string[] = [];
  for (let bit = 0; bit < ipv6Prefix; bit += 16) {
    const i = bit / 8;
    let group = (bytes[i]! << 8) | bytes[i + 1]!;
    const kept = Math.min(16, ipv6Prefix - bit);
    group &= (0xffff << (16 - kept)) & 0xffff;
    groups.push(group.toString(16));
  }
  return `${groups.join(":")}::/${ipv6Prefix}`;
}

function isIPv4Mapped(bytes: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (bytes[i] !== 0) return false;
  return bytes[10] === 0xff && bytes[11] === 0xff;
}
