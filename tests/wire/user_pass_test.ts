import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  decodeUserPassReply,
  decodeUserPassRequest,
  encodeUserPassReply,
  encodeUserPassRequest,
} from "../../src/wire/user_pass.ts";
import { itDecodesEveryWay, itRefuses } from "../_helpers/feed.ts";
import {
  b,
  USER_PASS_REPLY_INVALID,
  USER_PASS_REPLY_VECTORS,
  USER_PASS_REQUEST_INVALID,
  USER_PASS_REQUEST_VECTORS,
} from "../_helpers/vectors.ts";

describe("username/password request", () => {
  for (const vector of USER_PASS_REQUEST_VECTORS) {
    itDecodesEveryWay("decodeUserPassRequest()", decodeUserPassRequest, vector);
  }
  for (const vector of USER_PASS_REQUEST_INVALID) {
    itRefuses("decodeUserPassRequest()", decodeUserPassRequest, vector);
  }

  it("decodeUserPassRequest() assumes an empty password until PLEN arrives", () => {
    const partial = (needed: number) => ({ status: "partial", needed });
    assert.deepEqual(decodeUserPassRequest(b()), partial(3));
    assert.deepEqual(decodeUserPassRequest(b(1)), partial(2));
    assert.deepEqual(decodeUserPassRequest(b(1, 5)), partial(6));
    assert.deepEqual(decodeUserPassRequest(b(1, 5, "alice")), partial(1));
    assert.deepEqual(decodeUserPassRequest(b(1, 5, "alice", 6)), partial(6));
  });

  it("decodeUserPassRequest() keeps a leading U+FEFF", () => {
    const result = decodeUserPassRequest(
      b(0x01, 0x03, 0xef, 0xbb, 0xbf, 0x03, 0xef, 0xbb, 0xbf),
    );
    assert.deepEqual(result, {
      status: "done",
      value: { username: "\ufeff", password: "\ufeff" },
      bytesRead: 9,
    });
  });

  it("encodeUserPassRequest() writes the exact bytes of every vector", () => {
    for (const vector of USER_PASS_REQUEST_VECTORS.filter((v) => v.canonical)) {
      const out = encodeUserPassRequest(vector.value);
      assert.deepEqual(out, vector.bytes, vector.name);
      assert.equal(out.buffer.byteLength, out.length, "allocated exactly");
    }
  });

  it("encodeUserPassRequest() refuses an empty or 256-byte username", () => {
    for (
      const [username, bytes] of [["", 0], ["u".repeat(256), 256]] as const
    ) {
      assert.throws(() => encodeUserPassRequest({ username, password: "p" }), {
        name: "RangeError",
        message:
          `Cannot encode username/password request: username is ${bytes} bytes, not 1-255`,
      });
    }
  });

  it("encodeUserPassRequest() refuses a 256-byte password", () => {
    assert.throws(
      () => encodeUserPassRequest({ username: "u", password: "p".repeat(256) }),
      {
        name: "RangeError",
        message:
          "Cannot encode username/password request: password is 256 bytes, not 0-255",
      },
    );
  });

  it("encodeUserPassRequest() counts UTF-8 bytes, not characters", () => {
    // 128 two-byte characters: 256 bytes.
    assert.throws(
      () => encodeUserPassRequest({ username: "é".repeat(128), password: "" }),
      {
        name: "RangeError",
        message:
          "Cannot encode username/password request: username is 256 bytes, not 1-255",
      },
    );
    assert.throws(
      () => encodeUserPassRequest({ username: "u", password: "🔑".repeat(64) }),
      {
        name: "RangeError",
        message:
          "Cannot encode username/password request: password is 256 bytes, not 0-255",
      },
    );
    const out = encodeUserPassRequest({
      username: "é".repeat(127) + "x",
      password: "",
    });
    assert.equal(out.length, 3 + 255);
    assert.deepEqual(out.subarray(0, 4), b(0x01, 0xff, 0xc3, 0xa9));
  });
});

describe("username/password reply", () => {
  for (const vector of USER_PASS_REPLY_VECTORS) {
    itDecodesEveryWay("decodeUserPassReply()", decodeUserPassReply, vector);
  }
  for (const vector of USER_PASS_REPLY_INVALID) {
    itRefuses("decodeUserPassReply()", decodeUserPassReply, vector);
  }

  it("encodeUserPassReply() writes version 0x01 and the status", () => {
    for (const vector of USER_PASS_REPLY_VECTORS) {
      assert.deepEqual(encodeUserPassReply(vector.value), vector.bytes);
    }
  });

  it("encodeUserPassReply() refuses a status that is not a byte", () => {
    for (const status of [256, -1, 1.5]) {
      assert.throws(() => encodeUserPassReply({ status }), {
        name: "RangeError",
        message:
          `Cannot encode username/password reply: ${status} is not a byte`,
      });
    }
  });
});
