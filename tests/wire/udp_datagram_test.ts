import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  decodeUdpDatagram,
  encodeUdpDatagram,
  type UdpDatagram,
} from "../../src/wire/udp_datagram.ts";
import {
  assertDone,
  byteByByte,
  feedChunks,
  itRefuses,
  splitAt,
  trailers,
  withTrailing,
} from "../_helpers/feed.ts";
import { b, UDP_INVALID, UDP_VECTORS } from "../_helpers/vectors.ts";

/** The datagram as the first `length` bytes of it decode. */
function cut(value: UdpDatagram, header: number, length: number): UdpDatagram {
  return { ...value, data: value.data.subarray(0, length - header) };
}

describe("UDP datagram", () => {
  for (const vector of UDP_VECTORS) {
    const { name, bytes, value, headerLength, early } = vector;
    const length = bytes.length;
    const needed = (k: number) => early[k] ?? headerLength - k;

    it(`decodeUdpDatagram() decodes ${name} whole`, () => {
      assertDone(decodeUdpDatagram(bytes), value, length);
    });

    it(`decodeUdpDatagram() reports partial for every prefix of ${name} shorter than its header`, () => {
      for (let k = 0; k < headerLength; k++) {
        assert.deepEqual(
          decodeUdpDatagram(bytes.subarray(0, k)),
          { status: "partial", needed: needed(k) },
          `prefix of ${k} bytes`,
        );
      }
    });

    it(`decodeUdpDatagram() decodes every longer prefix of ${name} as less data`, () => {
      for (let k = headerLength; k <= length; k++) {
        assertDone(
          decodeUdpDatagram(bytes.subarray(0, k)),
          cut(value, headerLength, k),
          k,
        );
      }
    });

    it(`decodeUdpDatagram() decodes ${name} split at every offset`, () => {
      for (let k = 1; k < length; k++) {
        const fed = feedChunks(decodeUdpDatagram, splitAt(bytes, k));
        if (k < headerLength) {
          assert.equal(fed.results.length, 2, `split at ${k}`);
          assert.equal(fed.results[0]?.status, "partial");
          assertDone(fed.results[1]!, value, length);
        } else {
          assert.equal(fed.results.length, 1, `split at ${k}`);
          assertDone(fed.results[0]!, cut(value, headerLength, k), k);
        }
      }
    });

    it(`decodeUdpDatagram() decodes ${name} one byte at a time up to its header`, () => {
      const fed = feedChunks(decodeUdpDatagram, byteByByte(bytes));
      assert.equal(fed.results.length, headerLength);
      fed.results.slice(0, -1).forEach((result, i) => {
        assert.deepEqual(result, { status: "partial", needed: needed(i + 1) });
      });
      assertDone(
        fed.results.at(-1)!,
        cut(value, headerLength, headerLength),
        headerLength,
      );
    });

    it(`decodeUdpDatagram() takes bytes after ${name} as payload`, () => {
      for (const trailing of trailers(bytes)) {
        const input = withTrailing(bytes, trailing);
        assertDone(
          decodeUdpDatagram(input),
          { ...value, data: withTrailing(value.data, trailing) },
          input.length,
        );
      }
    });

    it(`decodeUdpDatagram() returns the data of ${name} as a view`, () => {
      const result = decodeUdpDatagram(bytes);
      assert.equal(result.status, "done");
      assert.equal(result.value.data.buffer, bytes.buffer);
      assert.equal(result.value.data.byteOffset, headerLength);
    });
  }
  for (const vector of UDP_INVALID) {
    itRefuses("decodeUdpDatagram()", decodeUdpDatagram, vector);
  }

  it("decodeUdpDatagram() asks for the shortest datagram, 8 bytes, until ATYP arrives", () => {
    for (let k = 0; k < 3; k++) {
      assert.deepEqual(decodeUdpDatagram(b(0, 0).subarray(0, k)), {
        status: "partial",
        needed: 8 - k,
      });
    }
  });

  it("encodeUdpDatagram() writes the exact bytes of every vector", () => {
    for (const vector of UDP_VECTORS.filter((v) => v.canonical)) {
      const out = encodeUdpDatagram(vector.value);
      assert.deepEqual(out, vector.bytes, vector.name);
      assert.equal(out.buffer.byteLength, out.length, "allocated exactly");
    }
  });

  it("encodeUdpDatagram() copies the payload", () => {
    const data = b(1, 2, 3);
    const out = encodeUdpDatagram({
      frag: 0,
      destination: { type: 0x01, host: "10.0.0.1", port: 53 },
      data,
    });
    data[0] = 9;
    assert.deepEqual(out, b(0, 0, 0, 1, 10, 0, 0, 1, 0, 53, 1, 2, 3));
  });

  it("encodeUdpDatagram() refuses a FRAG that is not a byte", () => {
    for (const frag of [256, -1, 1.5]) {
      assert.throws(
        () =>
          encodeUdpDatagram({
            frag,
            destination: { type: 0x01, host: "10.0.0.1", port: 53 },
            data: b(),
          }),
        {
          name: "RangeError",
          message: `Cannot encode UDP datagram: ${frag} is not a byte`,
        },
      );
    }
  });

  it("encodeUdpDatagram() refuses a port of -1", () => {
    assert.throws(
      () =>
        encodeUdpDatagram({
          frag: 0,
          destination: { type: 0x03, host: "example.com", port: -1 },
          data: b(),
        }),
      {
        name: "RangeError",
        message: "Cannot encode address: port -1 is not an integer in 0-65535",
      },
    );
  });
});
