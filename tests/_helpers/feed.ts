/**
 * Feeds wire bytes to a decoder the ways a socket can deliver them: whole,
 * as every strict prefix, split at every offset, one byte at a time, and
 * with pipelined bytes behind. A decoder is re-run on the accumulated
 * buffer after every chunk, as the driver does.
 *
 * @module
 */

import assert from "node:assert/strict";
import { it } from "node:test";
import { concat } from "../../src/bytes.ts";
import type { Decoded, ProtocolError } from "../../src/wire/result.ts";

/** Any of the codecs' decoders. */
export type Decoder<T> = (bytes: Uint8Array) => Decoded<T>;

/** A frame that decodes to `value` using all of its bytes. */
export interface DoneVector<T> {
  /** Reads as the rest of a test name: `decodeX() decodes ${name} whole`. */
  name: string;
  /** The whole frame. */
  bytes: Uint8Array;
  /** What the decoder returns. */
  value: T;
  /**
   * `needed` for the first prefixes, whose frame length the decoder cannot
   * know yet (it answers with the shortest possible frame). From prefix
   * length `early.length` on, `needed` is exactly the bytes still missing.
   */
  early: readonly number[];
  /** False when `encode(value)` differs from `bytes` (ignored RSV, bad UTF-8). */
  canonical: boolean;
}

/** A frame the decoder refuses, and where. */
export interface InvalidVector {
  /** Reads as the rest of a test name. */
  name: string;
  /** The frame, at least up to the offending byte. */
  bytes: Uint8Array;
  /** The exact error, message included. */
  error: ProtocolError;
}

/** What feeding a decoder chunk by chunk produced. */
export interface Fed<T> {
  /** The decoder's answer after each chunk, up to the first non-partial. */
  results: Decoded<T>[];
  /** Buffered bytes the decoder did not consume. */
  leftover: Uint8Array;
}

/**
 * Appends each chunk to a buffer and decodes the buffer, stopping at the
 * first answer that is not `partial`.
 */
export function feedChunks<T>(
  decode: Decoder<T>,
  chunks: readonly Uint8Array[],
): Fed<T> {
  const results: Decoded<T>[] = [];
  let buffer: Uint8Array = new Uint8Array(0);
  for (const chunk of chunks) {
    buffer = concat([buffer, chunk]);
    const result = decode(buffer);
    results.push(result);
    if (result.status === "done") {
      return { results, leftover: buffer.subarray(result.bytesRead) };
    }
    if (result.status === "invalid") break;
  }
  return { results, leftover: buffer };
}

/** The bytes as one chunk. */
export function whole(bytes: Uint8Array): Uint8Array[] {
  return [bytes];
}

/** The bytes as two chunks, the first `at` bytes long. */
export function splitAt(bytes: Uint8Array, at: number): Uint8Array[] {
  return [bytes.subarray(0, at), bytes.subarray(at)];
}

/** The bytes one per chunk. */
export function byteByByte(bytes: Uint8Array): Uint8Array[] {
  return Array.from(bytes, (_, i) => bytes.subarray(i, i + 1));
}

/** The bytes cut at the given offsets (any order, repeats allowed). */
export function chunkAt(
  bytes: Uint8Array,
  cuts: readonly number[],
): Uint8Array[] {
  const points = [...new Set(cuts)]
    .filter((cut) => cut > 0 && cut < bytes.length)
    .sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let start = 0;
  for (const point of [...points, bytes.length]) {
    chunks.push(bytes.subarray(start, point));
    start = point;
  }
  return chunks;
}

/** A copy of `bytes` with `trailing` appended. */
export function withTrailing(
  bytes: Uint8Array,
  trailing: Uint8Array,
): Uint8Array {
  return concat([bytes, trailing]);
}

/**
 * Pipelined bytes to put behind a frame: one byte, bytes that look like the
 * start of the next message, and the frame itself again.
 */
export function trailers(frame: Uint8Array): Uint8Array[] {
  return [
    new Uint8Array([0x00]),
    new Uint8Array([0x05, 0x01, 0x00, 0x01]),
    new Uint8Array(frame),
  ];
}

/** The `needed` a decoder must answer for the first `prefix` bytes. */
export function expectedNeeded<T>(
  vector: DoneVector<T>,
  prefix: number,
): number {
  return vector.early[prefix] ?? vector.bytes.length - prefix;
}

/** Asserts `result` is exactly `done` with `value` and `bytesRead`. */
export function assertDone<T>(
  result: Decoded<T>,
  value: T,
  bytesRead: number,
): void {
  assert.deepEqual(result, { status: "done", value, bytesRead });
}

/**
 * Registers the five feeding tests for a frame that decodes:
 * `${fn} decodes ${name} whole`, `... reports partial for every strict
 * prefix of ...`, `... split at every offset`, `... one byte at a time`,
 * `... leaves trailing bytes after ...`.
 */
export function itDecodesEveryWay<T>(
  fn: string,
  decode: Decoder<T>,
  vector: DoneVector<T>,
): void {
  const { name, bytes, value } = vector;
  const length = bytes.length;

  it(`${fn} decodes ${name} whole`, () => {
    assertDone(decode(bytes), value, length);
  });

  it(`${fn} reports partial for every strict prefix of ${name}`, () => {
    for (let k = 0; k < length; k++) {
      assert.deepEqual(
        decode(bytes.subarray(0, k)),
        { status: "partial", needed: expectedNeeded(vector, k) },
        `prefix of ${k} bytes`,
      );
      assert.ok(expectedNeeded(vector, k) >= 1);
      assert.ok(expectedNeeded(vector, k) <= length - k);
    }
  });

  it(`${fn} decodes ${name} split at every offset`, () => {
    for (let k = 1; k < length; k++) {
      const fed = feedChunks(decode, splitAt(bytes, k));
      assert.equal(fed.results.length, 2, `split at ${k}`);
      assert.equal(fed.results[0]?.status, "partial", `split at ${k}`);
      assertDone(fed.results[1]!, value, length);
      assert.equal(fed.leftover.length, 0);
    }
  });

  it(`${fn} decodes ${name} one byte at a time`, () => {
    const fed = feedChunks(decode, byteByByte(bytes));
    assert.equal(fed.results.length, length);
    fed.results.slice(0, -1).forEach((result, i) => {
      assert.deepEqual(result, {
        status: "partial",
        needed: expectedNeeded(vector, i + 1),
      });
    });
    assertDone(fed.results.at(-1)!, value, length);
    assert.equal(fed.leftover.length, 0);
  });

  it(`${fn} leaves trailing bytes after ${name}`, () => {
    for (const trailing of trailers(bytes)) {
      const input = withTrailing(bytes, trailing);
      assertDone(decode(input), value, length);
      // However the pipelined bytes arrive, the frame ends at the same byte.
      for (let k = 1; k < input.length; k++) {
        const fed = feedChunks(decode, splitAt(input, k));
        assertDone(fed.results.at(-1)!, value, length);
        assert.equal(fed.results.length, k < length ? 2 : 1, `split at ${k}`);
        assert.deepEqual(
          fed.leftover,
          k < length ? trailing : trailing.subarray(0, k - length),
        );
      }
    }
  });
}

/**
 * Registers the tests for a frame the decoder refuses: the exact error
 * whole, with trailing bytes, and as soon as the offending byte arrives
 * (every shorter prefix is still `partial`).
 */
export function itRefuses<T>(
  fn: string,
  decode: Decoder<T>,
  vector: InvalidVector,
): void {
  const { name, bytes, error } = vector;
  const expected = { status: "invalid", error };

  it(`${fn} reports ${error.code} at offset ${error.offset} for ${name}`, () => {
    assert.deepEqual(decode(bytes), expected);
    for (const trailing of trailers(bytes)) {
      assert.deepEqual(decode(withTrailing(bytes, trailing)), expected);
    }
  });

  it(`${fn} reports ${error.code} for ${name} as soon as byte ${error.offset} arrives`, () => {
    for (let k = 0; k <= error.offset; k++) {
      const result = decode(bytes.subarray(0, k));
      assert.equal(result.status, "partial", `prefix of ${k} bytes`);
    }
    for (let k = error.offset + 1; k <= bytes.length; k++) {
      assert.deepEqual(decode(bytes.subarray(0, k)), expected);
    }
    const fed = feedChunks(decode, byteByByte(bytes));
    assert.equal(fed.results.length, error.offset + 1);
    assert.deepEqual(fed.results.at(-1), expected);
  });
}
