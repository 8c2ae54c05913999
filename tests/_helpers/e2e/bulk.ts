/**
 * Big transfers with checksums: each side sends random bytes while it
 * hashes what it receives, so a lost, duplicated or reordered byte in either
 * direction shows up as a sha256 mismatch.
 *
 * @module
 */

import { createHash, randomBytes } from "node:crypto";
import type { RawSocket } from "./raw_socket.ts";
import { listenTcp, type TcpServer } from "./tcp_server.ts";
import { eventually } from "./with_timeout.ts";

/** What one side of a transfer sent and received. */
export interface Transfer {
  /** Bytes sent. */
  sent: number;
  /** sha256 of the bytes sent, hex. */
  sentSha256: string;
  /** Bytes received up to the peer's FIN. */
  received: number;
  /** sha256 of the bytes received, hex. */
  receivedSha256: string;
}

const CHUNK = 64 * 1024;

/**
 * Sends `size` random bytes while hashing what arrives; sends FIN once it
 * has also received `size` bytes (or the peer's FIN), then reads to the
 * peer's FIN. Rejects if the peer resets or after `ms`.
 *
 * FIN waits for the peer's bytes because Deno's `node:net` (2.x) fails a
 * half-open socket's pending writes with EPIPE when the peer's FIN arrives
 * during them; ending only after the peer has sent everything keeps that
 * harness bug out of the proxy's results. The half-close tests cover a FIN
 * that overtakes data.
 *
 * @example
 * ```ts
 * import { exchange } from "./bulk.ts";
 * import type { RawSocket } from "./raw_socket.ts";
 * async function both(raw: RawSocket) {
 *   const transfer = await exchange(raw, 1024);
 *   console.log(transfer.sent); // 1024
 * }
 * ```
 */
export async function exchange(
  raw: RawSocket,
  size: number,
  ms = 20_000,
): Promise<Transfer> {
  const receivedHash = createHash("sha256");
  let received = 0;
  raw.stream((chunk) => {
    receivedHash.update(chunk);
    received += chunk.length;
  });
  const sentHash = createHash("sha256");
  let sent = 0;
  // Bounded: size / CHUNK iterations.
  while (sent < size) {
    const chunk = randomBytes(Math.min(CHUNK, size - sent));
    sentHash.update(chunk);
    await raw.write(chunk);
    sent += chunk.length;
  }
  await eventually(
    () => received >= size || raw.ending !== null,
    ms,
    `receiving ${size} bytes (have ${received})`,
  );
  await raw.end();
  const ending = await raw.ended(ms);
  if (ending.error !== null) throw ending.error;
  return {
    sent,
    sentSha256: sentHash.digest("hex"),
    received,
    receivedSha256: receivedHash.digest("hex"),
  };
}

/**
 * A server that runs {@linkcode exchange} with every client.
 *
 * @example
 * ```ts
 * import { startBulkServer } from "./bulk.ts";
 * const bulk = await startBulkServer("127.0.0.1", 1024);
 * await bulk.close();
 * ```
 */
export interface BulkServer extends TcpServer {
  /** One transfer per accepted connection, in order. */
  readonly transfers: Promise<Transfer>[];
}

/**
 * Listens on `host` and sends `size` bytes to every client while hashing
 * what the client sends.
 *
 * @example
 * ```ts
 * import { startBulkServer } from "./bulk.ts";
 * const bulk = await startBulkServer("127.0.0.1", 10);
 * console.log(bulk.transfers.length); // 0
 * await bulk.close();
 * ```
 */
export async function startBulkServer(
  host: string,
  size: number,
): Promise<BulkServer> {
  const transfers: Promise<Transfer>[] = [];
  const server = await listenTcp(host, (raw) => {
    const transfer = exchange(raw, size);
    transfer.catch(() => {}); // awaited by the test
    transfers.push(transfer);
  });
  return { ...server, transfers, close: server.close };
}
