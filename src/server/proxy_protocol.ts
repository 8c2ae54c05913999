/**
 * Reads the PROXY header a trusted load balancer sends before the SOCKS
 * greeting, so the server can see the client the balancer relays.
 *
 * @module
 */

import { concat } from "../bytes.ts";
import type { Connection } from "../net/connection.ts";
import { decodeProxyHeader, type ProxyHeader } from "../wire/proxy_header.ts";

/**
 * What came first on a balancer's connection:
 *
 * - `done`: the header, and the bytes after it (the SOCKS greeting's start).
 * - `closed`: the connection ended before its first byte, as a plain TCP
 *   health check does.
 * - `invalid`: no valid header; `message` says why.
 *
 * @example
 * ```ts
 * import type { HeaderRead } from "./proxy_protocol.ts";
 * const read: HeaderRead = { status: "closed" };
 * ```
 */
export type HeaderRead =
  | { status: "done"; header: ProxyHeader; leftover: Uint8Array }
  | { status: "closed" }
  | { status: "invalid"; message: string };

/**
 * Reads until the header is complete or cannot become one. Buffers at most
 * one chunk beyond the header's bound: the decoder refuses a header once
 * it is longer than a valid one can be. Rejects only as `read()` does.
 *
 * @example
 * ```ts
 * import { readProxyHeader } from "./proxy_protocol.ts";
 * import type { Connection } from "../net/connection.ts";
 * async function clientOf(conn: Connection) {
 *   const read = await readProxyHeader(conn);
 *   return read.status === "done" ? read.header.source : null;
 * }
 * ```
 */
export async function readProxyHeader(client: Connection): Promise<HeaderRead> {
  let buffer: Uint8Array = new Uint8Array(0);
  for (;;) {
    const chunk = await client.read();
    if (chunk === null) {
      return buffer.length === 0 ? { status: "closed" } : {
        status: "invalid",
        message:
          `Cannot decode PROXY header: the connection ended after ${buffer.length} bytes`,
      };
    }
    buffer = buffer.length === 0 ? chunk : concat([buffer, chunk]);
    const result = decodeProxyHeader(buffer);
    if (result.status === "invalid") {
      return { status: "invalid", message: result.error.message };
    }
    if (result.status === "done") {
      return {
        status: "done",
        header: result.value,
        leftover: buffer.subarray(result.bytesRead),
      };
    }
  }
}
