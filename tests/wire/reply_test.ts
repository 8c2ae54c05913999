import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Reply, REPLY_MESSAGES } from "../../src/wire/constants.ts";
import { decodeReply, encodeReply, NO_ADDRESS } from "../../src/wire/reply.ts";
import { itDecodesEveryWay, itRefuses } from "../_helpers/feed.ts";
import { b, fill, REPLY_INVALID, REPLY_VECTORS } from "../_helpers/vectors.ts";

describe("reply", () => {
  for (const vector of REPLY_VECTORS) {
    itDecodesEveryWay("decodeReply()", decodeReply, vector);
  }
  for (const vector of REPLY_INVALID) {
    itRefuses("decodeReply()", decodeReply, vector);
  }

  it("decodeReply() asks for the shortest reply, 8 bytes, until ATYP arrives", () => {
    for (let k = 0; k < 4; k++) {
      assert.deepEqual(decodeReply(b(5, 0, 0).subarray(0, k)), {
        status: "partial",
        needed: 8 - k,
      });
    }
  });

  it("decodeReply() reports every REP above 0x08 as unassigned at offset 1", () => {
    for (let code = 0; code < 256; code++) {
      const result = decodeReply(b(0x05, code));
      if (code <= 8) {
        assert.deepEqual(result, { status: "partial", needed: 6 });
      } else {
        assert.equal(result.status, "invalid");
        assert.equal(result.error.code, "unassigned_reply");
        assert.equal(result.error.offset, 1);
        assert.equal(result.error.reply, null);
      }
    }
  });

  it("encodeReply() writes the exact bytes of every vector", () => {
    for (const vector of REPLY_VECTORS.filter((v) => v.canonical)) {
      const out = encodeReply(vector.value);
      assert.deepEqual(out, vector.bytes, vector.name);
      assert.equal(out.buffer.byteLength, out.length, "allocated exactly");
    }
  });

  it("encodeReply() without a bound address writes IPv4 0.0.0.0 port 0", () => {
    assert.deepEqual(
      encodeReply({ reply: Reply.ConnectionRefused }),
      b(0x05, 0x05, 0x00, 0x01, fill(6, 0)),
    );
    assert.deepEqual(NO_ADDRESS, { type: 0x01, host: "0.0.0.0", port: 0 });
    assert.ok(Object.isFrozen(NO_ADDRESS));
  });

  it("encodeReply() refuses a reply code outside 0-8", () => {
    for (const code of [9, 255, -1, 1.5]) {
      assert.throws(() => encodeReply({ reply: code as Reply }), {
        name: "RangeError",
        message: `Cannot encode reply: reply code ${code} is not 0-8`,
      });
    }
  });

  it("encodeReply() refuses a bound port of 70000", () => {
    assert.throws(
      () =>
        encodeReply({
          reply: Reply.Succeeded,
          bound: { type: 0x01, host: "127.0.0.1", port: 70000 },
        }),
      {
        name: "RangeError",
        message:
          "Cannot encode address: port 70000 is not an integer in 0-65535",
      },
    );
  });

  it("REPLY_MESSAGES names every reply code 0x00-0x08", () => {
    assert.deepEqual(Object.keys(REPLY_MESSAGES).map(Number), [
      0,
      1,
      2,
      3,
      4,
      5,
      6,
      7,
      8,
    ]);
    assert.equal(REPLY_MESSAGES[Reply.TtlExpired], "TTL expired");
    assert.equal(
      REPLY_MESSAGES[Reply.AddressTypeNotSupported],
      "address type not supported",
    );
  });
});
