/**
 * edgesocks: a SOCKS5 server (RFC 1928, RFC 1929) for Deno, Bun and Node,
 * and the pure codecs it is built on.
 *
 * @example
 * ```ts
 * import { decodeRequest } from "edgesocks";
 * const result = decodeRequest(new Uint8Array([5, 1, 0, 1, 127, 0, 0, 1, 0, 80]));
 * console.log(result.status); // "done"
 * ```
 *
 * @module
 */
export * from "./src/wire/mod.ts";
