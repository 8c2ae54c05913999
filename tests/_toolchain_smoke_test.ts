import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { describe, it } from "node:test";
import fc from "fast-check";
import { SocksClient } from "socks";

describe("toolchain", () => {
  it("node:assert/strict compares bytes by value and type", () => {
    assert.deepEqual(new Uint8Array([5, 1, 0]), new Uint8Array([5, 1, 0]));
    assert.throws(() => assert.deepEqual(new Uint8Array([5]), [5]));
  });

  it("fast-check runs a property exactly numRuns times", () => {
    let runs = 0;
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 16 }), (bytes) => {
        runs++;
        return bytes.every((b) => b >= 0 && b <= 255);
      }),
      { numRuns: 37, seed: 1 },
    );
    assert.equal(runs, 37);
  });

  it("socks encodes an RFC 1928 §7 UDP header", () => {
    const frame = SocksClient.createUDPFrame({
      remoteHost: { host: "1.2.3.4", port: 80 },
      data: Buffer.from([0xaa]),
    });
    assert.deepEqual(
      [...frame],
      [0x00, 0x00, 0x00, 0x01, 1, 2, 3, 4, 0x00, 0x50, 0xaa],
    );
  });
});
