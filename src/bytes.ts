/**
 * Small byte helpers the codecs and the driver share.
 *
 * @module
 */

const encoder = new TextEncoder();
// ignoreBOM keeps a leading U+FEFF: by default it is dropped, so a name or
// password that starts with one would not survive a decode.
const decoder = new TextDecoder("utf-8", { ignoreBOM: true });

/**
 * UTF-8 bytes of a string.
 *
 * @example
 * ```ts
 * import { utf8 } from "./bytes.ts";
 * console.log(utf8("hi")); // Uint8Array(2) [ 104, 105 ]
 * ```
 */
export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

/**
 * Text of UTF-8 bytes; invalid sequences become U+FFFD.
 *
 * @example
 * ```ts
 * import { fromUtf8 } from "./bytes.ts";
 * console.log(fromUtf8(new Uint8Array([104, 105]))); // "hi"
 * ```
 */
export function fromUtf8(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

/**
 * Joins byte arrays into one new array.
 *
 * @example
 * ```ts
 * import { concat } from "./bytes.ts";
 * console.log(concat([new Uint8Array([1]), new Uint8Array([2, 3])])); // Uint8Array(3) [ 1, 2, 3 ]
 * ```
 */
export function concat(parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const part of parts) length += part.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/**
 * Compares two byte arrays in time that depends only on their lengths, so a
 * timing probe cannot learn how long a matching prefix of a secret is.
 *
 * @example
 * ```ts
 * import { timingSafeEqual, utf8 } from "./bytes.ts";
 * console.log(timingSafeEqual(utf8("secret"), utf8("secret"))); // true
 * ```
 */
export function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
  // Walk the longer one whole so a length mismatch costs the same time.
  const length = Math.max(a.length, b.length);
  let difference = a.length ^ b.length;
  for (let i = 0; i < length; i++) {
    difference |= (a[i] ?? 0) ^ (b[i] ?? 0);
  }
  return difference === 0;
}
