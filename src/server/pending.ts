/**
 * Handshake slots shared fairly between client addresses: a client holds a
 * slot from accept until its request is decoded (or it fails), under a cap
 * per client (an IPv4 address, or an IPv6 prefix, /64 by default, since
 * one host usually owns a whole /64) and a cap in all.
 *
 * When every slot is taken, a newcomer from an address that holds fewer
 * slots than the busiest one takes the oldest slot of the busiest address:
 * that client is closed. A newcomer from the busiest address itself (or
 * one that would tie with it) is refused instead. Why: an honest handshake
 * takes milliseconds, so the slots an address has held longest are the
 * likeliest stalls, and the address holding most of them is the likeliest
 * flood. With the per-client cap, filling the table takes many addresses,
 * and while they fill it each new address still gets in at once. Keeping
 * the oldest stalls instead would let a flood lock out everyone for a
 * whole handshake timeout, again and again.
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
}

interface Slot {
  readonly key: string;
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
  // Each key's slots, oldest first (a Set iterates in insertion order).
  readonly #byKey = new Map<string, Set<Slot>>();
  #size = 0;

  constructor(options: PendingOptions) {
    this.#options = options;
  }

  /** Slots held now, in all. */
  get size(): number {
    return this.#size;
  }

  /** Slots held now by the key of `clientIp`. */
  held(clientIp: string): number {
    return this.#byKey.get(this.keyOf(clientIp))?.size ?? 0;
  }

  /** The client key of `clientIp`: itself, or its IPv6 prefix. */
  keyOf(clientIp: string): string {
    return clientKey(clientIp, this.#options.ipv6Prefix);
  }

  /**
   * Gives `clientIp` a slot, or names why not. `evict` is called (once)
   * if a newcomer takes this slot over; call `release` once the
   * handshake is over, evicted or not.
   */
  admit(
    clientIp: string,
    evict: () => void,
  ): { release: () => void } | { refused: PendingRefusal } {
    const { max, perClient } = this.#options;
    const key = this.keyOf(clientIp);
    const mine = this.#byKey.get(key)?.size ?? 0;
    if (perClient > 0 && mine >= perClient) {
      return { refused: "maxPendingHandshakesPerClient" };
    }
    if (max > 0 && this.#size >= max) {
      const victim = this.#oldestOfBusiest(mine);
      if (victim === null) return { refused: "maxPendingHandshakes" };
      this.#remove(victim);
      victim.evict();
    }
    const slot: Slot = { key, evict };
    let slots = this.#byKey.get(key);
    if (slots === undefined) this.#byKey.set(key, slots = new Set());
    slots.add(slot);
    this.#size++;
    return { release: () => this.#remove(slot) };
  }

  // The oldest slot of the key holding most, if taking it leaves the
  // newcomer's key (holding `mine`) still below that key.
  #oldestOfBusiest(mine: number): Slot | null {
    let busiest: Set<Slot> | null = null;
    for (const slots of this.#byKey.values()) {
      if (busiest === null || slots.size > busiest.size) busiest = slots;
    }
    if (busiest === null || mine + 1 >= busiest.size) return null;
    return busiest.values().next().value ?? null;
  }

  #remove(slot: Slot): void {
    const slots = this.#byKey.get(slot.key);
    if (slots === undefined || !slots.delete(slot)) return;
    this.#size--;
    if (slots.size === 0) this.#byKey.delete(slot.key);
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
