/**
 * The proxy's side of a client handshake over an in-memory connection,
 * for client tests: reads what the client sends, answers as told.
 *
 * @module
 */

import type { MemoryConnection } from "../_helpers/memory_connection.ts";
import { ByteReader } from "../_helpers/memory_connection.ts";

/** What the client sent. */
export interface Heard {
  /** The greeting. */
  greeting: number[];
  /** The RFC 1929 request, when one was sent. */
  login: number[] | null;
  /** The request. */
  request: number[];
}

/** A success reply bound to `host` (IPv4) and `port`. */
export function successReply(host: string, port: number): Uint8Array {
  return new Uint8Array([
    0x05,
    0x00,
    0x00,
    0x01,
    ...host.split(".").map(Number),
    port >> 8,
    port & 0xff,
  ]);
}

/**
 * Reads the greeting, picks `method` (default: 0x02 when offered, else
 * 0x00), takes a login when 0x02, reads the request and writes `reply`
 * (default: success bound to 127.0.0.1:40000). Returns what it heard and
 * the reader, for bytes after the request.
 */
export async function answerHandshake(
  proxy: MemoryConnection,
  answer: { reply?: Uint8Array; method?: number } = {},
): Promise<{ heard: Heard; reader: ByteReader }> {
  const reader = new ByteReader(proxy);
  const head = await reader.bytes(2);
  const greeting = [...head, ...await reader.bytes(head[1] ?? 0)];
  const offered = greeting.slice(2);
  const method = answer.method ?? (offered.includes(0x02) ? 0x02 : 0x00);
  await proxy.write(new Uint8Array([0x05, method]));
  let login: number[] | null = null;
  if (method === 0x02) {
    const start = await reader.bytes(2);
    const username = await reader.bytes(start[1] ?? 0);
    const passwordLength = await reader.bytes(1);
    const password = await reader.bytes(passwordLength[0] ?? 0);
    login = [...start, ...username, ...passwordLength, ...password];
    await proxy.write(new Uint8Array([0x01, 0x00]));
  }
  const top = await reader.bytes(5);
  const rest = top[3] === 0x01 ? 5 : top[3] === 0x04 ? 17 : (top[4] ?? 0) + 2;
  const request = [...top, ...await reader.bytes(rest)];
  await proxy.write(answer.reply ?? successReply("127.0.0.1", 40000));
  return { heard: { greeting, login, request }, reader };
}
