import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decodeGreeting, encodeGreeting } from "../../src/wire/greeting.ts";
import { itDecodesEveryWay, itRefuses } from "../_helpers/feed.ts";
import {
  b,
  GREETING_INVALID,
  GREETING_VECTORS,
  sequence,
} from "../_helpers/vectors.ts";

describe("greeting", () => {
  for (const vector of GREETING_VECTORS) {
    itDecodesEveryWay("decodeGreeting()", decodeGreeting, vector);
  }
  for (const vector of GREETING_INVALID) {
    itRefuses("decodeGreeting()", decodeGreeting, vector);
  }

  it("decodeGreeting() asks for the shortest greeting before NMETHODS arrives", () => {
    assert.deepEqual(decodeGreeting(b()), { status: "partial", needed: 3 });
    assert.deepEqual(decodeGreeting(b(5)), { status: "partial", needed: 2 });
    assert.deepEqual(decodeGreeting(b(5, 3)), { status: "partial", needed: 3 });
  });

  it("decodeGreeting() copies the methods out of the input", () => {
    const input = b(0x05, 0x01, 0x02);
    const result = decodeGreeting(input);
    input[2] = 0x00;
    assert.deepEqual(result, {
      status: "done",
      value: { methods: [0x02] },
      bytesRead: 3,
    });
  });

  it("encodeGreeting() writes the exact bytes of every vector", () => {
    for (const vector of GREETING_VECTORS.filter((v) => v.canonical)) {
      const out = encodeGreeting(vector.value);
      assert.deepEqual(out, vector.bytes, vector.name);
      assert.equal(out.buffer.byteLength, out.length, "allocated exactly");
    }
  });

  it("encodeGreeting() refuses 0 and 256 methods with a RangeError", () => {
    assert.throws(() => encodeGreeting({ methods: [] }), {
      name: "RangeError",
      message: "Cannot encode greeting: 0 methods, not 1-255",
    });
    assert.throws(() => encodeGreeting({ methods: sequence(256) }), {
      name: "RangeError",
      message: "Cannot encode greeting: 256 methods, not 1-255",
    });
    assert.equal(encodeGreeting({ methods: sequence(255) }).length, 257);
  });

  it("encodeGreeting() refuses a method that is not a byte", () => {
    for (const method of [256, -1, 1.5, NaN]) {
      assert.throws(() => encodeGreeting({ methods: [0x00, method] }), {
        name: "RangeError",
        message: `Cannot encode greeting: ${method} is not a byte`,
      });
    }
  });
});
