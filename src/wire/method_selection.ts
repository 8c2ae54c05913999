/**
 * The server's answer to a greeting: the method it chose, or 0xFF for none
 * (RFC 1928 §3).
 *
 * ```
 * +----+--------+
 * |VER | METHOD |
 * +----+--------+
 * | 1  |   1    |
 * +----+--------+
 * ```
 *
 * @module
 */

import { assertByte } from "./_assert.ts";
import { SOCKS_VERSION } from "./constants.ts";
import { type Decoded, done, hex, invalid, partial } from "./result.ts";

/**
 * A decoded method selection.
 *
 * @example
 * ```ts
 * import type { MethodSelection } from "./method_selection.ts";
 * const selection: MethodSelection = { method: 0xff };
 * ```
 */
export interface MethodSelection {
  /** The chosen method; `AuthMethod.NoAcceptable` (0xFF) when none fits. */
  method: number;
}

/**
 * Decodes a method selection.
 *
 * @example
 * ```ts
 * import { decodeMethodSelection } from "./method_selection.ts";
 * const result = decodeMethodSelection(new Uint8Array([5, 2]));
 * if (result.status === "done") console.log(result.value.method); // 2
 * ```
 */
export function decodeMethodSelection(
  bytes: Uint8Array,
): Decoded<MethodSelection> {
  if (bytes.length === 0) return partial(2);
  const version = bytes[0]!;
  if (version !== SOCKS_VERSION) {
    return invalid({
      code: "bad_version",
      message: `Cannot decode method selection: version ${
        hex(version)
      } is not 0x05`,
      offset: 0,
      reply: null,
    });
  }
  if (bytes.length === 1) return partial(1);
  return done({ method: bytes[1]! }, 2);
}

/**
 * Encodes a method selection.
 *
 * @throws {RangeError} When the method is not a byte.
 *
 * @example
 * ```ts
 * import { encodeMethodSelection } from "./method_selection.ts";
 * console.log(encodeMethodSelection({ method: 0xff })); // Uint8Array(2) [ 5, 255 ]
 * ```
 */
export function encodeMethodSelection(selection: MethodSelection): Uint8Array {
  assertByte(selection.method, "method selection");
  return new Uint8Array([SOCKS_VERSION, selection.method]);
}
