/**
 * The client's greeting: the methods it can authenticate with
 * (RFC 1928 §3).
 *
 * ```
 * +----+----------+----------+
 * |VER | NMETHODS | METHODS  |
 * +----+----------+----------+
 * | 1  |    1     | 1 to 255 |
 * +----+----------+----------+
 * ```
 *
 * @module
 */

import { assertByte } from "./_assert.ts";
import { SOCKS_VERSION } from "./constants.ts";
import { type Decoded, done, hex, invalid, partial } from "./result.ts";

/**
 * A decoded greeting.
 *
 * @example
 * ```ts
 * import type { Greeting } from "./greeting.ts";
 * const greeting: Greeting = { methods: [0x00, 0x02] };
 * ```
 */
export interface Greeting {
  /** Method bytes in the order the client listed them. */
  methods: number[];
}

/**
 * Decodes a greeting from the bytes received so far.
 *
 * @example
 * ```ts
 * import { decodeGreeting } from "./greeting.ts";
 * const result = decodeGreeting(new Uint8Array([5, 1, 2]));
 * if (result.status === "done") console.log(result.value.methods); // [ 2 ]
 * ```
 */
export function decodeGreeting(bytes: Uint8Array): Decoded<Greeting> {
  if (bytes.length === 0) return partial(3);
  const version = bytes[0]!;
  if (version !== SOCKS_VERSION) {
    return invalid({
      code: "bad_version",
      message: `Cannot decode greeting: version ${hex(version)} is not 0x05`,
      offset: 0,
      reply: null,
    });
  }
  if (bytes.length === 1) return partial(2);
  const count = bytes[1]!;
  if (count === 0) {
    return invalid({
      code: "no_methods",
      message: "Cannot decode greeting: it offers no methods",
      offset: 1,
      reply: null,
    });
  }
  const end = 2 + count;
  if (bytes.length < end) return partial(end - bytes.length);
  return done({ methods: Array.from(bytes.subarray(2, end)) }, end);
}

/**
 * Encodes a greeting.
 *
 * @throws {RangeError} When there are not 1–255 methods or one is not a
 * byte.
 *
 * @example
 * ```ts
 * import { encodeGreeting } from "./greeting.ts";
 * console.log(encodeGreeting({ methods: [0, 2] })); // Uint8Array(4) [ 5, 2, 0, 2 ]
 * ```
 */
export function encodeGreeting(greeting: Greeting): Uint8Array {
  const { methods } = greeting;
  if (methods.length < 1 || methods.length > 255) {
    throw new RangeError(
      `Cannot encode greeting: ${methods.length} methods, not 1-255`,
    );
  }
  for (const method of methods) assertByte(method, "greeting");
  const out = new Uint8Array(2 + methods.length);
  out[0] = SOCKS_VERSION;
  out[1] = methods.length;
  out.set(methods, 2);
  return out;
}
