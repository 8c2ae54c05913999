import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  mulberry32,
  mutate,
  pick,
  randomBytes,
  randomLength,
} from "../_helpers/random.ts";
import {
  ADDRESS_INVALID,
  ADDRESS_VECTORS,
  b,
  fill,
  GREETING_INVALID,
  GREETING_VECTORS,
  METHOD_SELECTION_INVALID,
  METHOD_SELECTION_VECTORS,
  PROXY_INVALID,
  PROXY_VECTORS,
  REPLY_INVALID,
  REPLY_VECTORS,
  REQUEST_INVALID,
  REQUEST_VECTORS,
  UDP_INVALID,
  UDP_VECTORS,
  USER_PASS_REPLY_INVALID,
  USER_PASS_REPLY_VECTORS,
  USER_PASS_REQUEST_INVALID,
  USER_PASS_REQUEST_VECTORS,
} from "../_helpers/vectors.ts";
import {
  checkWellFormed,
  type Subject,
  SUBJECTS,
} from "../_helpers/well_formed.ts";

/** Inputs per decoder. */
const RUNS = 100_000;

interface Target<T> {
  subject: Subject<T>;
  /** Fixed so a failure reproduces: it is printed with the input. */
  seed: number;
  /** Valid and corrupted frames to mutate. */
  corpus: Uint8Array[];
  /** Indexes of the length and type bytes the mutator likes to nudge. */
  lengthAt(bytes: Uint8Array): number[];
}

type Counts = Record<"done" | "partial" | "invalid", number>;

function framesOf(
  ...lists: ReadonlyArray<ReadonlyArray<{ bytes: Uint8Array }>>
): Uint8Array[] {
  return lists.flat().map((vector) => vector.bytes);
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0"))
    .join(" ");
}

/**
 * Feeds `RUNS` inputs: 30% random bytes, the rest mutations of a corpus
 * frame or of an earlier input (so edits stack up).
 */
function fuzz<T>(target: Target<T>): Counts {
  const { subject, seed, corpus } = target;
  const random = mulberry32(seed);
  const filler = randomBytes(random, 600);
  const counts: Counts = { done: 0, partial: 0, invalid: 0 };
  let previous = corpus[0]!;
  for (let i = 0; i < RUNS; i++) {
    const roll = random();
    const base = roll < 0.7 ? pick(random, corpus) : previous;
    const input = roll < 0.3
      ? randomBytes(random, randomLength(random))
      : mutate(random, base, target.lengthAt(base));
    let status: keyof Counts;
    try {
      const result = subject.decode(input);
      checkWellFormed(subject, input, result, filler);
      status = result.status;
    } catch (error) {
      throw new Error(
        `${subject.name} failed on input ${i} of seed ${seed}: [${
          hex(input)
        }]: ${String(error)}`,
      );
    }
    counts[status]++;
    if (status !== "invalid" && input.length <= 600) previous = input;
  }
  return counts;
}

const prefixed = (frames: Uint8Array[]) => frames.map((f) => b(5, 0, 0, f));

function itFuzzes<T>(target: Target<T>): void {
  it(`${target.subject.name} keeps the decoder contract on ${RUNS} random and mutated inputs`, () => {
    const counts = fuzz(target);
    assert.equal(counts.done + counts.partial + counts.invalid, RUNS);
    // Each outcome must be well exercised, or the fuzzer tests little.
    for (const status of ["done", "partial", "invalid"] as const) {
      assert.ok(
        counts[status] >= RUNS / 10,
        `${status}: ${counts[status]} of ${RUNS}`,
      );
    }
  });
}

describe("fuzz", () => {
  itFuzzes({
    subject: SUBJECTS.greeting,
    seed: 0x5eed0001,
    corpus: framesOf(GREETING_VECTORS, GREETING_INVALID),
    lengthAt: () => [1],
  });
  itFuzzes({
    subject: SUBJECTS.methodSelection,
    seed: 0x5eed0002,
    corpus: framesOf(METHOD_SELECTION_VECTORS, METHOD_SELECTION_INVALID),
    lengthAt: () => [0, 1],
  });
  itFuzzes({
    subject: SUBJECTS.userPassRequest,
    seed: 0x5eed0003,
    corpus: framesOf(USER_PASS_REQUEST_VECTORS, USER_PASS_REQUEST_INVALID),
    lengthAt: (bytes) => [1, 2 + (bytes[1] ?? 0)],
  });
  itFuzzes({
    subject: SUBJECTS.userPassReply,
    seed: 0x5eed0004,
    corpus: framesOf(USER_PASS_REPLY_VECTORS, USER_PASS_REPLY_INVALID),
    lengthAt: () => [0, 1],
  });
  itFuzzes({
    subject: SUBJECTS.request,
    seed: 0x5eed0005,
    corpus: framesOf(REQUEST_VECTORS, REQUEST_INVALID),
    lengthAt: () => [1, 3, 4],
  });
  itFuzzes({
    subject: SUBJECTS.reply,
    seed: 0x5eed0006,
    corpus: framesOf(REPLY_VECTORS, REPLY_INVALID),
    lengthAt: () => [1, 3, 4],
  });
  itFuzzes({
    subject: SUBJECTS.udpDatagram,
    seed: 0x5eed0007,
    corpus: framesOf(UDP_VECTORS, UDP_INVALID),
    lengthAt: () => [2, 3, 4],
  });
  itFuzzes({
    subject: SUBJECTS.address,
    seed: 0x5eed0008,
    corpus: framesOf(ADDRESS_VECTORS, ADDRESS_INVALID),
    lengthAt: () => [0, 1],
  });
  itFuzzes({
    subject: SUBJECTS.addressAt3,
    seed: 0x5eed0009,
    corpus: prefixed(framesOf(ADDRESS_VECTORS, ADDRESS_INVALID)),
    lengthAt: () => [3, 4],
  });
  itFuzzes({
    subject: SUBJECTS.proxyHeader,
    seed: 0x5eed000a,
    // Valid headers also with a greeting behind, as on the wire: a
    // mutated text line is rarely still valid, mutated trailing bytes are.
    corpus: [
      ...framesOf(PROXY_VECTORS, PROXY_INVALID),
      ...PROXY_VECTORS.map((v) => b(v.bytes, 5, 2, 0, 2, fill(16, 0))),
    ],
    // The v2 version/command, family and length bytes.
    lengthAt: (bytes) => bytes[0] === 0x0d ? [12, 13, 14, 15] : [],
  });
});
