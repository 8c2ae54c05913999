import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AuthMethod } from "../../src/wire/constants.ts";
import {
  decodeMethodSelection,
  encodeMethodSelection,
} from "../../src/wire/method_selection.ts";
import { itDecodesEveryWay, itRefuses } from "../_helpers/feed.ts";
import {
  b,
  METHOD_SELECTION_INVALID,
  METHOD_SELECTION_VECTORS,
} from "../_helpers/vectors.ts";

describe("method selection", () => {
  for (const vector of METHOD_SELECTION_VECTORS) {
    itDecodesEveryWay("decodeMethodSelection()", decodeMethodSelection, vector);
  }
  for (const vector of METHOD_SELECTION_INVALID) {
    itRefuses("decodeMethodSelection()", decodeMethodSelection, vector);
  }

  it("decodeMethodSelection() accepts every METHOD byte", () => {
    for (let method = 0; method < 256; method++) {
      assert.deepEqual(decodeMethodSelection(b(0x05, method, 0x05)), {
        status: "done",
        value: { method },
        bytesRead: 2,
      });
    }
  });

  it("encodeMethodSelection() writes the exact bytes of every vector", () => {
    for (const vector of METHOD_SELECTION_VECTORS) {
      assert.deepEqual(encodeMethodSelection(vector.value), vector.bytes);
    }
    assert.deepEqual(
      encodeMethodSelection({ method: AuthMethod.NoAcceptable }),
      b(0x05, 0xff),
    );
  });

  it("encodeMethodSelection() refuses a method that is not a byte", () => {
    for (const method of [256, -1, 1.5, NaN]) {
      assert.throws(() => encodeMethodSelection({ method }), {
        name: "RangeError",
        message: `Cannot encode method selection: ${method} is not a byte`,
      });
    }
  });
});
