import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { utf8 } from "../../src/bytes.ts";
import {
  decodeAddress,
  formatHostPort,
  formatIPv4,
  formatIPv6,
  parseHostPort,
  parseIPv4,
  parseIPv6,
  type SocksAddress,
  toSocksAddress,
  writeAddress,
} from "../../src/wire/address.ts";
import { Command, type Reply } from "../../src/wire/constants.ts";
import { decodeGreeting, encodeGreeting } from "../../src/wire/greeting.ts";
import {
  decodeMethodSelection,
  encodeMethodSelection,
} from "../../src/wire/method_selection.ts";
import { decodeReply, encodeReply } from "../../src/wire/reply.ts";
import {
  decodeProxyHeader,
  encodeProxyHeader,
  type ProxyHeader,
} from "../../src/wire/proxy_header.ts";
import { decodeRequest, encodeRequest } from "../../src/wire/request.ts";
import {
  decodeUdpDatagram,
  encodeUdpDatagram,
  type UdpDatagram,
} from "../../src/wire/udp_datagram.ts";
import {
  decodeUserPassReply,
  decodeUserPassRequest,
  encodeUserPassReply,
  encodeUserPassRequest,
} from "../../src/wire/user_pass.ts";
import {
  assertDone,
  byteByByte,
  chunkAt,
  type Decoder,
  feedChunks,
  splitAt,
} from "../_helpers/feed.ts";
import {
  checkWellFormed,
  type Subject,
  SUBJECTS,
} from "../_helpers/well_formed.ts";

/** Bounded so the suite stays fast on every runtime. */
const RUNS = { numRuns: 300 };

// --- Arbitraries ------------------------------------------------------------

const byte = fc.integer({ min: 0, max: 255 });
const port = fc.integer({ min: 0, max: 65535 });

const ipv4Bytes = fc.uint8Array({ minLength: 4, maxLength: 4 });

/** Groups drawn often as zero, so runs of zeros (and `::`) are common. */
const ipv6Bytes = fc.oneof(
  fc.array(
    fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffff })),
    { minLength: 8, maxLength: 8 },
  ).map((groups) =>
    new Uint8Array(groups.flatMap((group) => [group >> 8, group & 0xff]))
  ),
  ipv4Bytes.map((v4) =>
    new Uint8Array([...new Array(10).fill(0), 255, 255, ...v4])
  ),
  fc.uint8Array({ minLength: 16, maxLength: 16 }),
);

/** Any code point, with a leading U+FEFF and multi-byte ones made likely. */
const textUnit = fc.oneof(
  fc.constantFrom("\ufeff", "\u0000", "é", "€", "🔑", "."),
  fc.string({ unit: "binary", minLength: 1, maxLength: 1 }),
);

/** Text of `min`–`max` UTF-8 bytes, sometimes right at `max`. */
function utf8Text(min: number, max: number): fc.Arbitrary<string> {
  return fc.oneof(
    fc.string({ unit: textUnit, maxLength: max }),
    fc.string({ unit: "grapheme-ascii", minLength: max - 3, maxLength: max }),
  ).filter((text) => {
    const length = utf8(text).length;
    return length >= min && length <= max;
  });
}

/** fast-check builds records with a null prototype; decoders do not. */
const PLAIN = { noNullPrototype: true } as const;

const socksAddress: fc.Arbitrary<SocksAddress> = fc.oneof(
  fc.record({
    type: fc.constant(0x01 as const),
    host: ipv4Bytes.map(formatIPv4),
    port,
  }, PLAIN),
  fc.record({
    type: fc.constant(0x04 as const),
    host: ipv6Bytes.map(formatIPv6),
    port,
  }, PLAIN),
  fc.record(
    { type: fc.constant(0x03 as const), host: utf8Text(1, 255), port },
    PLAIN,
  ),
);

// --- Feeding ----------------------------------------------------------------

/**
 * `bytes` decodes to `value` whole, split at every offset, one byte at a
 * time and in the random chunks `cuts` makes; every strict prefix is
 * `partial` with a `needed` that does not overshoot the bytes missing.
 */
function assertDecodesEveryWay<T>(
  decode: Decoder<T>,
  bytes: Uint8Array,
  value: T,
  cuts: readonly number[],
): void {
  const length = bytes.length;
  assertDone(decode(bytes), value, length);
  for (let k = 0; k < length; k++) {
    const result = decode(bytes.subarray(0, k));
    assert.equal(result.status, "partial", `prefix of ${k} bytes`);
    assert.ok(result.needed >= 1, `needed ${result.needed} at ${k}`);
    assert.ok(
      result.needed <= length - k,
      `needed ${result.needed} overshoots ${length - k} at ${k}`,
    );
  }
  for (let k = 1; k < length; k++) {
    const fed = feedChunks(decode, splitAt(bytes, k));
    assert.equal(fed.results.length, 2);
    assertDone(fed.results[1]!, value, length);
  }
  const oneByOne = feedChunks(decode, byteByByte(bytes));
  assert.equal(oneByOne.results.length, length);
  assertDone(oneByOne.results.at(-1)!, value, length);
  const chunks = chunkAt(bytes, cuts.map((cut) => cut % (length + 1)));
  const chunked = feedChunks(decode, chunks);
  assert.equal(chunked.results.length, chunks.length);
  assertDone(chunked.results.at(-1)!, value, length);
}

const cuts = fc.array(fc.nat(), { maxLength: 6 });

// --- Round trips ------------------------------------------------------------

describe("round trips", () => {
  it("decodeGreeting(encodeGreeting(x)) is x for random method lists", () => {
    fc.assert(
      fc.property(
        fc.array(byte, { minLength: 1, maxLength: 255 }),
        cuts,
        (methods, c) => {
          assertDecodesEveryWay(decodeGreeting, encodeGreeting({ methods }), {
            methods,
          }, c);
        },
      ),
      RUNS,
    );
  });

  it("decodeMethodSelection(encodeMethodSelection(x)) is x for every method", () => {
    fc.assert(
      fc.property(byte, cuts, (method, c) => {
        assertDecodesEveryWay(
          decodeMethodSelection,
          encodeMethodSelection({ method }),
          { method },
          c,
        );
      }),
      RUNS,
    );
  });

  it("decodeUserPassRequest(encodeUserPassRequest(x)) is x for random UTF-8 credentials", () => {
    fc.assert(
      fc.property(
        utf8Text(1, 255),
        utf8Text(0, 255),
        cuts,
        (username, password, c) => {
          const value = { username, password };
          assertDecodesEveryWay(
            decodeUserPassRequest,
            encodeUserPassRequest(value),
            value,
            c,
          );
        },
      ),
      RUNS,
    );
  });

  it("decodeUserPassReply(encodeUserPassReply(x)) is x for every status", () => {
    fc.assert(
      fc.property(byte, cuts, (status, c) => {
        assertDecodesEveryWay(
          decodeUserPassReply,
          encodeUserPassReply({ status }),
          { status },
          c,
        );
      }),
      RUNS,
    );
  });

  it("decodeRequest(encodeRequest(x)) is x for all three address types", () => {
    const command = fc.constantFrom(
      Command.Connect,
      Command.Bind,
      Command.UdpAssociate,
    );
    fc.assert(
      fc.property(command, socksAddress, cuts, (command, destination, c) => {
        const value = { command, destination };
        assertDecodesEveryWay(decodeRequest, encodeRequest(value), value, c);
      }),
      RUNS,
    );
  });

  it("decodeReply(encodeReply(x)) is x for every code and address type", () => {
    const code = fc.integer({ min: 0, max: 8 }).map((n) => n as Reply);
    fc.assert(
      fc.property(code, socksAddress, cuts, (reply, bound, c) => {
        const value = { reply, bound };
        assertDecodesEveryWay(decodeReply, encodeReply(value), value, c);
      }),
      RUNS,
    );
  });

  it("decodeAddress(writeAddress(x)) is x at any offset", () => {
    fc.assert(
      fc.property(
        socksAddress,
        fc.uint8Array({ maxLength: 8 }),
        cuts,
        (address, head, c) => {
          const bytes = new Uint8Array(head.length + 2 + 255 + 2);
          bytes.set(head);
          const end = writeAddress(bytes, { offset: head.length, address });
          const decode: Decoder<SocksAddress> = (input) =>
            decodeAddress(input, { offset: head.length });
          assertDecodesEveryWay(decode, bytes.subarray(0, end), address, c);
        },
      ),
      RUNS,
    );
  });

  it("decodeProxyHeader(encodeProxyHeader(x)) is x for both versions, any chunking", () => {
    const port = fc.integer({ min: 0, max: 0xffff });
    const pair = fc.oneof(
      fc.tuple(ipv4Bytes, ipv4Bytes).map(([a, b]) => [
        formatIPv4(a),
        formatIPv4(b),
      ]),
      fc.tuple(ipv6Bytes, ipv6Bytes).map(([a, b]) => [
        formatIPv6(a),
        formatIPv6(b),
      ]),
    );
    const tlv = fc.record({
      type: byte,
      value: fc.uint8Array({ maxLength: 40 }),
    }, PLAIN);
    const header = fc.record({
      version: fc.constantFrom(1 as const, 2 as const),
      pair,
      ports: fc.tuple(port, port),
      tlvs: fc.array(tlv, { maxLength: 4 }),
      cuts: fc.array(fc.nat({ max: 300 }), { maxLength: 4 }),
    });
    fc.assert(
      fc.property(header, ({ version, pair, ports, tlvs, cuts }) => {
        const value: ProxyHeader = {
          version,
          command: "proxy",
          source: { host: pair[0]!, port: ports[0] },
          destination: { host: pair[1]!, port: ports[1] },
          tlvs: version === 1 ? [] : tlvs,
        };
        const bytes = encodeProxyHeader(value);
        if (version === 1) assert.ok(bytes.length <= 107);
        const fed = feedChunks(decodeProxyHeader, chunkAt(bytes, cuts));
        assertDone(fed.results.at(-1)!, value, bytes.length);
        assert.equal(fed.leftover.length, 0);
      }),
      RUNS,
    );
  });

  it("decodeUdpDatagram(encodeUdpDatagram(x)) is x for random payloads", () => {
    const datagram: fc.Arbitrary<UdpDatagram> = fc.record({
      frag: byte,
      destination: socksAddress,
      data: fc.uint8Array({ maxLength: 600 }),
    }, PLAIN);
    fc.assert(
      fc.property(datagram, (value) => {
        const bytes = encodeUdpDatagram(value);
        const header = bytes.length - value.data.length;
        assertDone(decodeUdpDatagram(bytes), value, bytes.length);
        // A datagram is whole or nothing: a prefix is partial until the
        // header is in, then a datagram with less data.
        for (let k = 0; k < bytes.length; k++) {
          const result = decodeUdpDatagram(bytes.subarray(0, k));
          if (k < header) {
            assert.equal(result.status, "partial");
            assert.ok(result.needed >= 1 && result.needed <= header - k);
          } else {
            assertDone(result, {
              ...value,
              data: value.data.subarray(0, k - header),
            }, k);
          }
        }
        const oneByOne = feedChunks(decodeUdpDatagram, byteByByte(bytes));
        assert.equal(oneByOne.results.length, header);
      }),
      RUNS,
    );
  });
});

// --- Decoders on arbitrary bytes --------------------------------------------

function itKeepsContract<T>(subject: Subject<T>): void {
  it(`${subject.name} keeps the decoder contract on arbitrary bytes`, () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 600 }),
        fc.uint8Array({ minLength: 600, maxLength: 600 }),
        (input, filler) => {
          checkWellFormed(subject, input, subject.decode(input), filler);
        },
      ),
      { numRuns: 500 },
    );
  });
}

describe("arbitrary bytes", () => {
  itKeepsContract(SUBJECTS.greeting);
  itKeepsContract(SUBJECTS.methodSelection);
  itKeepsContract(SUBJECTS.userPassRequest);
  itKeepsContract(SUBJECTS.userPassReply);
  itKeepsContract(SUBJECTS.request);
  itKeepsContract(SUBJECTS.reply);
  itKeepsContract(SUBJECTS.udpDatagram);
  itKeepsContract(SUBJECTS.address);
  itKeepsContract(SUBJECTS.addressAt3);
  itKeepsContract(SUBJECTS.proxyHeader);
});

// --- Address text -----------------------------------------------------------

/** Eight groups, uncompressed: `0:0:0:0:0:0:0:1`. */
function fullIPv6(bytes: Uint8Array): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) {
    groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  }
  return groups.join(":");
}

function isIPv4Mapped(bytes: Uint8Array): boolean {
  return bytes.subarray(0, 10).every((x) => x === 0) && bytes[10] === 0xff &&
    bytes[11] === 0xff;
}

/**
 * Some valid, non-canonical spelling of the address: groups padded or
 * upper-cased at random, any zero run (even one group) written as `::`, the
 * last 32 bits maybe as dotted IPv4.
 */
const ipv6Spelling = fc.record({
  bytes: ipv6Bytes,
  pads: fc.array(fc.integer({ min: 0, max: 3 }), {
    minLength: 8,
    maxLength: 8,
  }),
  upper: fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }),
  compress: fc.nat(),
  dotted: fc.boolean(),
}).map(({ bytes, pads, upper, compress, dotted }) => {
  const texts: string[] = [];
  for (let g = 0; g < 8; g++) {
    let text = ((bytes[2 * g]! << 8) | bytes[2 * g + 1]!).toString(16);
    text = text.padStart(Math.min(4, text.length + pads[g]!), "0");
    texts.push(upper[g] ? text.toUpperCase() : text);
  }
  let parts = texts;
  if (dotted) parts = [...texts.slice(0, 6), formatIPv4(bytes.subarray(12))];
  const zeroRuns: [number, number][] = [];
  const groupCount = dotted ? 6 : 8;
  for (let start = 0; start < groupCount; start++) {
    for (let end = start + 1; end <= groupCount; end++) {
      const run = bytes.subarray(2 * start, 2 * end);
      if (run.every((x) => x === 0)) zeroRuns.push([start, end]);
    }
  }
  let text = parts.join(":");
  if (zeroRuns.length > 0 && compress % 3 !== 0) {
    const [start, end] = zeroRuns[compress % zeroRuns.length]!;
    text = `${parts.slice(0, start).join(":")}::${parts.slice(end).join(":")}`;
  }
  return { bytes, text };
});

describe("address text", () => {
  it("parseIPv4(formatIPv4(x)) is x", () => {
    fc.assert(
      fc.property(ipv4Bytes, (bytes) => {
        assert.deepEqual(parseIPv4(formatIPv4(bytes)), bytes);
      }),
      RUNS,
    );
  });

  it("parseIPv6(formatIPv6(x)) is x and the text is canonical", () => {
    fc.assert(
      fc.property(ipv6Bytes, (bytes) => {
        const text = formatIPv6(bytes);
        assert.deepEqual(parseIPv6(text), bytes);
        assert.equal(formatIPv6(parseIPv6(text)!), text);
        assert.equal(text, text.toLowerCase());
        assert.ok(text.split("::").length <= 2, text);
        for (
          const group of text.split(/::?/).filter((g) =>
            g !== "" && !g.includes(".")
          )
        ) {
          assert.match(group, /^(0|[1-9a-f][0-9a-f]{0,3})$/, text);
        }
      }),
      RUNS,
    );
  });

  it("formatIPv6() agrees with the WHATWG URL serializer outside IPv4-mapped", () => {
    // URL's IPv6 serializer applies the same rules as RFC 5952 §4, but
    // writes IPv4-mapped addresses in hex, not as ::ffff:a.b.c.d.
    fc.assert(
      fc.property(ipv6Bytes, (bytes) => {
        const url = new URL(`http://[${fullIPv6(bytes)}]/`).hostname;
        if (isIPv4Mapped(bytes)) {
          assert.deepEqual(parseIPv6(url.slice(1, -1)), bytes);
          assert.equal(
            formatIPv6(bytes),
            `::ffff:${formatIPv4(bytes.subarray(12))}`,
          );
        } else {
          assert.equal(`[${formatIPv6(bytes)}]`, url);
        }
      }),
      RUNS,
    );
  });

  it("parseIPv6() reads any valid spelling of an address", () => {
    fc.assert(
      fc.property(ipv6Spelling, ({ bytes, text }) => {
        assert.deepEqual(parseIPv6(text), bytes, text);
      }),
      { numRuns: 500 },
    );
  });

  it("toSocksAddress() gives the wire type and canonical text of any IP", () => {
    fc.assert(
      fc.property(fc.oneof(ipv4Bytes, ipv6Bytes), port, (bytes, p) => {
        const text = bytes.length === 4 ? formatIPv4(bytes) : fullIPv6(bytes);
        const address = toSocksAddress(text, p);
        if (bytes.length === 4 || isIPv4Mapped(bytes)) {
          assert.deepEqual(address, {
            type: 0x01,
            host: formatIPv4(bytes.subarray(-4)),
            port: p,
          });
        } else {
          assert.deepEqual(address, {
            type: 0x04,
            host: formatIPv6(bytes),
            port: p,
          });
        }
      }),
      RUNS,
    );
  });

  it("parseHostPort(formatHostPort(x)) is x", () => {
    const name = fc.stringMatching(/^[a-z0-9][a-z0-9.-]{0,30}$/);
    const host = fc.oneof(
      ipv4Bytes.map(formatIPv4),
      ipv6Bytes.map(formatIPv6),
      name,
    );
    fc.assert(
      fc.property(host, port, (host, port) => {
        assert.deepEqual(parseHostPort(formatHostPort({ host, port })), {
          host,
          port,
        });
      }),
      RUNS,
    );
  });
});
