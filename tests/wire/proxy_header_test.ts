import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  decodeProxyHeader,
  encodeProxyHeader,
  PROXY_V2_MAX_LENGTH,
} from "../../src/wire/proxy_header.ts";
import { itDecodesEveryWay, itRefuses } from "../_helpers/feed.ts";
import { b, fill, PROXY_INVALID, PROXY_VECTORS } from "../_helpers/vectors.ts";

describe("PROXY header", () => {
  for (const vector of PROXY_VECTORS) {
    itDecodesEveryWay("decodeProxyHeader()", decodeProxyHeader, vector);
  }
  for (const vector of PROXY_INVALID) {
    itRefuses("decodeProxyHeader()", decodeProxyHeader, vector);
  }

  it("encodeProxyHeader() writes the exact bytes of every canonical vector", () => {
    for (const vector of PROXY_VECTORS.filter((v) => v.canonical)) {
      const out = encodeProxyHeader(vector.value);
      assert.deepEqual(out, vector.bytes, vector.name);
    }
  });

  it("decodeProxyHeader() takes a v2 header of exactly the bound and no more", () => {
    const length = PROXY_V2_MAX_LENGTH - 16;
    const header = encodeProxyHeader({
      version: 2,
      source: { host: "127.0.0.2", port: 1 },
      destination: { host: "127.0.0.1", port: 2 },
      tlvs: [{ type: 0xe0, value: new Uint8Array(length - 12 - 3) }],
    });
    assert.equal(header.length, PROXY_V2_MAX_LENGTH);
    const result = decodeProxyHeader(header);
    assert.equal(result.status, "done");
    assert.equal(result.status === "done" && result.bytesRead, header.length);
  });

  it("decodeProxyHeader() refuses a long v1 line at byte 107 whatever follows", () => {
    const line = b("PROXY TCP6 ", fill(200, 0x31));
    const result = decodeProxyHeader(line);
    assert.equal(result.status, "invalid");
    // An address over 45 characters is refused before the line bound.
    assert.equal(result.status === "invalid" && result.error.offset, 56);
  });

  it("encodeProxyHeader() refuses what a balancer cannot send", () => {
    const v4 = { host: "127.0.0.1", port: 1 };
    const v6 = { host: "::1", port: 1 };
    const cases: [Parameters<typeof encodeProxyHeader>[0], string][] = [
      [
        { version: 1, source: v4, destination: v6 },
        "Cannot encode PROXY header: 127.0.0.1 and ::1 are not both IPv4 or both IPv6",
      ],
      [
        { version: 1, source: v4, destination: null },
        "Cannot encode PROXY header: give both addresses or neither",
      ],
      [
        { version: 2, source: { ...v4, port: 70000 }, destination: v4 },
        "Cannot encode PROXY header: port 70000 is not 0-65535",
      ],
      [
        { version: 1, command: "local", source: null, destination: null },
        "Cannot encode PROXY header: version 1 has no LOCAL command or TLVs",
      ],
      [
        {
          version: 2,
          source: null,
          destination: null,
          tlvs: [{ type: 256, value: b() }],
        },
        "Cannot encode PROXY header: TLV type 256 is not a byte",
      ],
    ];
    for (const [header, message] of cases) {
      assert.throws(() => encodeProxyHeader(header), {
        name: "RangeError",
        message,
      });
    }
  });
});
