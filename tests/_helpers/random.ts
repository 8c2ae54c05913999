/**
 * A small seeded PRNG and byte mutators for the fuzz tests: the same seed
 * gives the same inputs on every runtime, so a failure names its seed and
 * input index and reproduces.
 *
 * @module
 */

/** Returns floats in [0, 1). */
export type Random = () => number;

/** mulberry32: 32 bits of state, good enough spread for fuzzing. */
export function mulberry32(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An integer in 0…`limit - 1`. */
export function randomInt(random: Random, limit: number): number {
  return Math.floor(random() * limit);
}

/** One of `items`. */
export function pick<T>(random: Random, items: readonly T[]): T {
  return items[randomInt(random, items.length)]!;
}

/** `length` random bytes. */
export function randomBytes(random: Random, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = randomInt(random, 256);
  return out;
}

/** Lengths biased short, as SOCKS frames are, with a tail up to 600. */
export function randomLength(random: Random): number {
  const roll = random();
  if (roll < 0.5) return randomInt(random, 12);
  if (roll < 0.85) return randomInt(random, 40);
  return randomInt(random, 600);
}

/** Byte values that sit on the codecs' boundaries. */
const INTERESTING = [0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x08, 0x09, 0xff];

/**
 * Applies one to three random edits to a copy of `bytes`: a bit flip, a
 * byte set to a random or boundary value, truncation, insertion, deletion,
 * junk appended, or a length byte (an index in `lengthAt`) nudged by ±1 or
 * set to 0 or 255.
 */
export function mutate(
  random: Random,
  bytes: Uint8Array,
  lengthAt: readonly number[],
): Uint8Array {
  let out = Array.from(bytes);
  const edits = 1 + randomInt(random, 3);
  for (let e = 0; e < edits; e++) {
    const at = randomInt(random, out.length + 1);
    switch (randomInt(random, 8)) {
      case 0:
        if (at < out.length) out[at]! ^= 1 << randomInt(random, 8);
        break;
      case 1:
        if (at < out.length) out[at] = randomInt(random, 256);
        break;
      case 2:
        if (at < out.length) out[at] = pick(random, INTERESTING);
        break;
      case 3:
        out = out.slice(0, at);
        break;
      case 4:
        out.splice(at, 0, ...randomBytes(random, 1 + randomInt(random, 4)));
        break;
      case 5:
        out.splice(at, 1 + randomInt(random, 3));
        break;
      case 6:
        out.push(...randomBytes(random, 1 + randomInt(random, 8)));
        break;
      default: {
        const index = lengthAt.length > 0 ? pick(random, lengthAt) : at;
        if (index >= out.length) break;
        const value = out[index]!;
        out[index] = pick(random, [value + 1, value - 1, 0, 255]) & 0xff;
      }
    }
  }
  return new Uint8Array(out);
}
