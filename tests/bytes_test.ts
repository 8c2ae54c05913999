import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { concat, fromUtf8, timingSafeEqual, utf8 } from "../src/bytes.ts";

const bytes = (...values: number[]) => new Uint8Array(values);

describe("bytes", () => {
  it("utf8() encodes text as UTF-8", () => {
    assert.deepEqual(utf8(""), bytes());
    assert.deepEqual(utf8("hi"), bytes(0x68, 0x69));
    assert.deepEqual(utf8("é🔑"), bytes(0xc3, 0xa9, 0xf0, 0x9f, 0x94, 0x91));
    assert.deepEqual(utf8("\ufeff"), bytes(0xef, 0xbb, 0xbf));
    // A lone surrogate cannot be UTF-8: it becomes U+FFFD.
    assert.deepEqual(utf8("\ud800"), bytes(0xef, 0xbf, 0xbd));
  });

  it("fromUtf8() decodes UTF-8 and turns invalid sequences into U+FFFD", () => {
    assert.equal(fromUtf8(bytes()), "");
    assert.equal(fromUtf8(bytes(0x68, 0x69)), "hi");
    assert.equal(fromUtf8(bytes(0xc3, 0xa9, 0xf0, 0x9f, 0x94, 0x91)), "é🔑");
    assert.equal(fromUtf8(bytes(0xff, 0x61, 0xc3)), "\ufffda\ufffd");
    assert.equal(fromUtf8(bytes(0xed, 0xa0, 0x80)), "\ufffd\ufffd\ufffd");
  });

  it("fromUtf8() keeps a leading U+FEFF", () => {
    assert.equal(fromUtf8(bytes(0xef, 0xbb, 0xbf, 0x61)), "\ufeffa");
    assert.equal(fromUtf8(utf8("\ufeff\ufeff")), "\ufeff\ufeff");
  });

  it("fromUtf8() reads only the view it is given", () => {
    const buffer = utf8("xxabcxx");
    assert.equal(fromUtf8(buffer.subarray(2, 5)), "abc");
  });

  it("concat() joins parts in order into a new array", () => {
    const a = bytes(1, 2);
    const b = bytes(3);
    const joined = concat([a, bytes(), b, bytes(4, 5)]);
    assert.deepEqual(joined, bytes(1, 2, 3, 4, 5));
    assert.equal(joined.buffer.byteLength, 5);
    a[0] = 9;
    assert.equal(joined[0], 1, "a copy, not a view");
  });

  it("concat() of no parts or one part is a new array", () => {
    assert.deepEqual(concat([]), bytes());
    const only = bytes(7, 8);
    const copy = concat([only]);
    assert.deepEqual(copy, only);
    assert.notEqual(copy.buffer, only.buffer);
  });

  it("concat() copies views, not their whole buffers", () => {
    const buffer = bytes(0, 1, 2, 3, 4, 5);
    assert.deepEqual(
      concat([buffer.subarray(1, 3), buffer.subarray(4)]),
      bytes(1, 2, 4, 5),
    );
  });

  it("timingSafeEqual() is true only for equal bytes", () => {
    assert.equal(timingSafeEqual(bytes(), bytes()), true);
    assert.equal(timingSafeEqual(utf8("secret"), utf8("secret")), true);
    assert.equal(timingSafeEqual(utf8("secret"), utf8("secreT")), false);
    assert.equal(timingSafeEqual(utf8("Secret"), utf8("secret")), false);
    assert.equal(timingSafeEqual(bytes(0x00), bytes(0x80)), false);
  });

  it("timingSafeEqual() is false for different lengths, even a zero-padded prefix", () => {
    assert.equal(timingSafeEqual(utf8("secret"), utf8("secret!")), false);
    assert.equal(timingSafeEqual(utf8("secret!"), utf8("secret")), false);
    assert.equal(timingSafeEqual(bytes(), bytes(0)), false);
    assert.equal(timingSafeEqual(bytes(1), bytes(1, 0)), false);
    assert.equal(timingSafeEqual(bytes(0, 0), bytes(0)), false);
  });

  it("timingSafeEqual() compares views by their contents", () => {
    const buffer = utf8("abcabc");
    assert.equal(
      timingSafeEqual(buffer.subarray(0, 3), buffer.subarray(3)),
      true,
    );
    assert.equal(
      timingSafeEqual(buffer.subarray(0, 3), buffer.subarray(2, 5)),
      false,
    );
  });

  it("timingSafeEqual() catches a difference in every byte position", () => {
    const secret = utf8("correct horse battery staple");
    for (let i = 0; i < secret.length; i++) {
      for (const bit of [0x01, 0x80]) {
        const other = new Uint8Array(secret);
        other[i]! ^= bit;
        assert.equal(timingSafeEqual(secret, other), false, `byte ${i}`);
      }
    }
  });
});
