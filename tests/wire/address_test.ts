import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  decodeAddress,
  encodedAddressLength,
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
import { AddressType } from "../../src/wire/constants.ts";
import {
  type DoneVector,
  type InvalidVector,
  itDecodesEveryWay,
  itRefuses,
} from "../_helpers/feed.ts";
import { ADDRESS_INVALID, ADDRESS_VECTORS, b } from "../_helpers/vectors.ts";

/** 16 bytes from eight 16-bit groups. */
function groups(...values: number[]): Uint8Array {
  assert.equal(values.length, 8);
  return b(values.flatMap((group) => [group >> 8, group & 0xff]));
}

describe("IPv4 text", () => {
  it("parseIPv4() parses dotted quads", () => {
    assert.deepEqual(parseIPv4("0.0.0.0"), b(0, 0, 0, 0));
    assert.deepEqual(parseIPv4("127.0.0.1"), b(127, 0, 0, 1));
    assert.deepEqual(parseIPv4("255.255.255.255"), b(255, 255, 255, 255));
    assert.deepEqual(parseIPv4("192.0.2.10"), b(192, 0, 2, 10));
  });

  it("parseIPv4() rejects leading zeros, parts above 255 and wrong part counts", () => {
    for (
      const text of [
        "010.0.0.1",
        "1.02.3.4",
        "00.0.0.0",
        "1.2.3.00",
        "256.0.0.1",
        "1.2.3.256",
        "1000.0.0.1",
        "1.2.3",
        "1.2.3.4.5",
        "1",
        "",
        "...",
        "1..2.3",
        "1.2.3.4.",
        ".1.2.3",
        " 1.2.3.4",
        "1.2.3.4 ",
        "1.2.3.4\n",
        "+1.2.3.4",
        "1.2.3.-4",
        "0x1.2.3.4",
        "1e2.0.0.1",
        "١.٢.٣.٤",
        "::1",
      ]
    ) {
      assert.equal(parseIPv4(text), null, JSON.stringify(text));
    }
  });

  it("formatIPv4() writes dotted decimal", () => {
    assert.equal(formatIPv4(b(10, 0, 0, 1)), "10.0.0.1");
    assert.equal(formatIPv4(b(0, 0, 0, 0)), "0.0.0.0");
    assert.equal(formatIPv4(b(255, 254, 1, 0)), "255.254.1.0");
  });
});

describe("IPv6 text", () => {
  it("parseIPv6() parses ::, ::1 and 1::", () => {
    assert.deepEqual(parseIPv6("::"), groups(0, 0, 0, 0, 0, 0, 0, 0));
    assert.deepEqual(parseIPv6("::1"), groups(0, 0, 0, 0, 0, 0, 0, 1));
    assert.deepEqual(parseIPv6("1::"), groups(1, 0, 0, 0, 0, 0, 0, 0));
  });

  it("parseIPv6() parses full, compressed and mixed-case forms", () => {
    const cases: [string, Uint8Array][] = [
      ["1:2:3:4:5:6:7:8", groups(1, 2, 3, 4, 5, 6, 7, 8)],
      [
        "2001:0db8:0000:0000:0000:ff00:0042:8329",
        groups(0x2001, 0xdb8, 0, 0, 0, 0xff00, 0x42, 0x8329),
      ],
      [
        "2001:DB8::FF00:42:8329",
        groups(0x2001, 0xdb8, 0, 0, 0, 0xff00, 0x42, 0x8329),
      ],
      ["fe80::1:2", groups(0xfe80, 0, 0, 0, 0, 0, 1, 2)],
      // `::` may stand for a single zero group (RFC 4291 §2.2).
      ["1::3:4:5:6:7:8", groups(1, 0, 3, 4, 5, 6, 7, 8)],
      ["1:2:3:4:5:6:7::", groups(1, 2, 3, 4, 5, 6, 7, 0)],
      ["::2:3:4:5:6:7:8", groups(0, 2, 3, 4, 5, 6, 7, 8)],
      [
        "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        groups(...new Array(8).fill(0xffff)),
      ],
    ];
    for (const [text, bytes] of cases) {
      assert.deepEqual(parseIPv6(text), bytes, text);
    }
  });

  it("parseIPv6() parses an embedded IPv4 tail", () => {
    const cases: [string, Uint8Array][] = [
      ["::ffff:192.0.2.128", groups(0, 0, 0, 0, 0, 0xffff, 0xc000, 0x0280)],
      ["::192.0.2.128", groups(0, 0, 0, 0, 0, 0, 0xc000, 0x0280)],
      ["64:ff9b::192.0.2.33", groups(0x64, 0xff9b, 0, 0, 0, 0, 0xc000, 0x0221)],
      ["1:2:3:4:5:6:1.2.3.4", groups(1, 2, 3, 4, 5, 6, 0x0102, 0x0304)],
      [
        "0:0:0:0:0:FFFF:10.0.0.1",
        groups(0, 0, 0, 0, 0, 0xffff, 0x0a00, 0x0001),
      ],
    ];
    for (const [text, bytes] of cases) {
      assert.deepEqual(parseIPv6(text), bytes, text);
    }
  });

  it("parseIPv6() rejects too many or too few groups, a double ::, zone ids and junk", () => {
    for (
      const text of [
        "",
        ":",
        ":::",
        "1:2:3:4:5:6:7",
        "1:2:3:4:5:6:7:8:9",
        "1:2:3:4:5:6:7:8::",
        "::1:2:3:4:5:6:7:8",
        "1::2::3",
        "::1::",
        "1::2:3::",
        ":1::",
        "1::2:",
        ":1:2:3:4:5:6:7:8",
        "1:2:3:4:5:6:7:8:",
        "12345::",
        "g::",
        "1:2:3:4:5:6:7:-8",
        "fe80::1%eth0",
        "fe80::1%1",
        "::1%",
        "[::1]",
        " ::1",
        "::1 ",
        "1.2.3.4",
        "::1.2.3",
        "::256.0.0.1",
        "::1.2.3.04",
        "1.2.3.4::",
        "::1.2.3.4:5",
        "1.2.3.4::5",
        "1:2:3:4:5:6:7:1.2.3.4",
        "1:2:3:4:5:1.2.3.4",
        "::0x1",
      ]
    ) {
      assert.equal(parseIPv6(text), null, JSON.stringify(text));
    }
  });

  it("formatIPv6() follows RFC 5952", () => {
    const cases: [Uint8Array, string, string][] = [
      [
        groups(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1),
        "2001:db8::1",
        "§4.2.1 longest run compressed",
      ],
      [groups(0x2001, 0xdb8, 0, 0, 0, 0, 2, 1), "2001:db8::2:1", "§4.2.1"],
      [
        groups(0x2001, 0xdb8, 0, 1, 1, 1, 1, 1),
        "2001:db8:0:1:1:1:1:1",
        "§4.2.2 one zero group not compressed",
      ],
      [
        groups(0x2001, 0, 0, 1, 0, 0, 0, 1),
        "2001:0:0:1::1",
        "§4.2.3 longest run wins",
      ],
      [
        groups(0x2001, 0xdb8, 0, 0, 1, 0, 0, 1),
        "2001:db8::1:0:0:1",
        "§4.2.3 first of equal runs",
      ],
      [
        groups(0x2001, 0xdb8, 0xaaaa, 0xbbbb, 0xcccc, 0xdddd, 0xeeee, 0xaaaa),
        "2001:db8:aaaa:bbbb:cccc:dddd:eeee:aaaa",
        "§4.3 lower case",
      ],
      [
        groups(0x2001, 0x0db8, 0x00ff, 0x000f, 0x0a00, 0, 0, 0x0001),
        "2001:db8:ff:f:a00::1",
        "§4.1 leading zeros dropped",
      ],
      [groups(0, 0, 0, 0, 0, 0, 0, 0), "::", "all zeros"],
      [groups(0, 0, 0, 0, 0, 0, 0, 1), "::1", "loopback"],
      [groups(1, 0, 0, 0, 0, 0, 0, 0), "1::", "trailing run"],
      [groups(1, 0, 0, 1, 0, 0, 0, 0), "1:0:0:1::", "longer trailing run"],
      [groups(0, 0, 1, 0, 0, 0, 1, 0), "0:0:1::1:0", "longer middle run"],
      [
        groups(1, 2, 3, 4, 5, 6, 7, 0),
        "1:2:3:4:5:6:7:0",
        "single trailing zero",
      ],
      [
        groups(0, 1, 2, 3, 4, 5, 6, 7),
        "0:1:2:3:4:5:6:7",
        "single leading zero",
      ],
      [
        groups(0, 0, 0, 0, 0, 0xffff, 0xc000, 0x0201),
        "::ffff:192.0.2.1",
        "§5 IPv4-mapped",
      ],
      [
        groups(0, 0, 0, 0, 0, 0xffff, 0, 0),
        "::ffff:0.0.0.0",
        "§5 IPv4-mapped any",
      ],
      [
        groups(0, 0, 0, 0, 0, 0xfffe, 0xc000, 0x0201),
        "::fffe:c000:201",
        "not mapped",
      ],
      [
        groups(0, 0, 0, 0, 1, 0xffff, 0xc000, 0x0201),
        "::1:ffff:c000:201",
        "not mapped",
      ],
    ];
    for (const [bytes, text, rule] of cases) {
      assert.equal(formatIPv6(bytes), text, rule);
      assert.deepEqual(parseIPv6(text), bytes, `${text} parses back`);
    }
  });
});

describe("toSocksAddress()", () => {
  it("toSocksAddress() classifies IPv4, IPv6 and names", () => {
    assert.deepEqual(toSocksAddress("127.0.0.1", 80), {
      type: AddressType.IPv4,
      host: "127.0.0.1",
      port: 80,
    });
    assert.deepEqual(toSocksAddress("::1", 1080), {
      type: AddressType.IPv6,
      host: "::1",
      port: 1080,
    });
    assert.deepEqual(toSocksAddress("example.com", 443), {
      type: AddressType.Domain,
      host: "example.com",
      port: 443,
    });
  });

  it("toSocksAddress() turns IPv4-mapped IPv6 into IPv4", () => {
    for (
      const host of [
        "::ffff:127.0.0.1",
        "::FFFF:7f00:1",
        "0:0:0:0:0:ffff:127.0.0.1",
      ]
    ) {
      assert.deepEqual(toSocksAddress(host, 80), {
        type: 0x01,
        host: "127.0.0.1",
        port: 80,
      }, host);
    }
  });

  it("toSocksAddress() canonicalises IPv6 text", () => {
    assert.deepEqual(toSocksAddress("2001:0DB8:0:0:0:0:0:0001", 0), {
      type: 0x04,
      host: "2001:db8::1",
      port: 0,
    });
  });

  it("toSocksAddress() treats text that is no IP address as a name", () => {
    for (const host of ["010.0.0.1", "fe80::1%eth0", "[::1]", "localhost"]) {
      assert.deepEqual(
        toSocksAddress(host, 1),
        { type: 0x03, host, port: 1 },
        host,
      );
    }
  });
});

describe("host:port text", () => {
  it("parseHostPort() parses IPv4, bracketed IPv6 and names", () => {
    const cases: [string, string, number][] = [
      ["127.0.0.1:1080", "127.0.0.1", 1080],
      ["0.0.0.0:0", "0.0.0.0", 0],
      ["[::1]:1080", "::1", 1080],
      ["[2001:db8::1]:65535", "2001:db8::1", 65535],
      ["[::ffff:192.0.2.1]:80", "::ffff:192.0.2.1", 80],
      ["localhost:8080", "localhost", 8080],
      ["proxy.example:443", "proxy.example", 443],
    ];
    for (const [text, host, port] of cases) {
      assert.deepEqual(parseHostPort(text), { host, port }, text);
    }
  });

  it("parseHostPort() refuses text that is not HOST:PORT or [IPV6]:PORT", () => {
    for (
      const text of [
        "::1:1080",
        "::1",
        "127.0.0.1",
        "localhost",
        ":1080",
        "host:",
        "host:-1",
        "host:+80",
        "host:1e3",
        "host:80:81",
        "[::1]",
        "[::1]:",
        "[::1]:x",
        "[]:80",
        "[::1]80",
        "",
        "[::1]:80 ",
      ]
    ) {
      assert.throws(() => parseHostPort(text), {
        name: "TypeError",
        message:
          `Cannot parse address: "${text}" is not HOST:PORT or [IPV6]:PORT`,
      }, JSON.stringify(text));
    }
  });

  it("parseHostPort() refuses brackets around anything but IPv6", () => {
    for (const host of ["example.com", "1.2.3.4", "fe80::1%eth0", "1::2::3"]) {
      assert.throws(() => parseHostPort(`[${host}]:80`), {
        name: "TypeError",
        message:
          `Cannot parse address: "${host}" in brackets is not an IPv6 address`,
      });
    }
  });

  it("parseHostPort() refuses a port above 65535", () => {
    for (const port of ["65536", "70000", "99999999999999999999"]) {
      for (const text of [`localhost:${port}`, `[::1]:${port}`]) {
        assert.throws(() => parseHostPort(text), {
          name: "TypeError",
          message: `Cannot parse address: port ${port} is not in 0-65535`,
        }, text);
      }
    }
  });

  it("formatHostPort() brackets IPv6 only", () => {
    assert.equal(
      formatHostPort({ host: "127.0.0.1", port: 80 }),
      "127.0.0.1:80",
    );
    assert.equal(formatHostPort({ host: "::1", port: 1080 }), "[::1]:1080");
    assert.equal(
      formatHostPort({ host: "::ffff:10.0.0.1", port: 0 }),
      "[::ffff:10.0.0.1]:0",
    );
    assert.equal(
      formatHostPort({ host: "example.com", port: 443 }),
      "example.com:443",
    );
  });
});

describe("address on the wire", () => {
  for (const vector of ADDRESS_VECTORS) {
    itDecodesEveryWay(
      "decodeAddress()",
      (bytes) => decodeAddress(bytes, { offset: 0 }),
      vector,
    );
  }
  for (const vector of ADDRESS_INVALID) {
    itRefuses(
      "decodeAddress()",
      (bytes) => decodeAddress(bytes, { offset: 0 }),
      vector,
    );
  }

  // The same addresses behind a 3-byte header, as in a request or reply:
  // bytesRead and offsets count from the start of the buffer.
  const header = [0x05, 0x00, 0x00];
  for (const vector of ADDRESS_VECTORS) {
    const atThree: DoneVector<SocksAddress> = {
      ...vector,
      name: `${vector.name} at offset 3`,
      bytes: b(header, vector.bytes),
      early: [4, 3, 2, ...vector.early],
    };
    itDecodesEveryWay(
      "decodeAddress()",
      (bytes) => decodeAddress(bytes, { offset: 3, frame: "reply" }),
      atThree,
    );
  }
  for (const vector of ADDRESS_INVALID) {
    const atThree: InvalidVector = {
      name: `${vector.name} at offset 3`,
      bytes: b(header, vector.bytes),
      error: {
        ...vector.error,
        offset: vector.error.offset + 3,
        message: vector.error.message.replace(
          "decode address",
          "decode UDP datagram",
        ),
      },
    };
    itRefuses(
      "decodeAddress()",
      (bytes) => decodeAddress(bytes, { offset: 3, frame: "UDP datagram" }),
      atThree,
    );
  }

  it("writeAddress() writes every vector at an offset and returns the offset after it", () => {
    for (const vector of ADDRESS_VECTORS) {
      const target = new Uint8Array(vector.bytes.length + 5).fill(0xee);
      const end = writeAddress(target, { offset: 2, address: vector.value });
      assert.equal(end, 2 + vector.bytes.length, vector.name);
      assert.deepEqual(
        target,
        b(0xee, 0xee, vector.bytes, 0xee, 0xee, 0xee),
        vector.name,
      );
      assert.equal(encodedAddressLength(vector.value), vector.bytes.length);
    }
  });

  it("encodedAddressLength() counts ATYP, ADDR, the domain length byte and PORT", () => {
    assert.equal(
      encodedAddressLength({ type: 0x01, host: "1.2.3.4", port: 1 }),
      7,
    );
    assert.equal(encodedAddressLength({ type: 0x04, host: "::", port: 1 }), 19);
    assert.equal(encodedAddressLength({ type: 0x03, host: "a", port: 1 }), 5);
    assert.equal(encodedAddressLength({ type: 0x03, host: "é", port: 1 }), 6);
  });

  it("writeAddress() refuses a host that does not match its type", () => {
    const cases: [SocksAddress, string][] = [
      [
        { type: 0x01, host: "example.com", port: 1 },
        `Cannot encode address: "example.com" is not an IPv4 address`,
      ],
      [
        { type: 0x01, host: "::1", port: 1 },
        `Cannot encode address: "::1" is not an IPv4 address`,
      ],
      [
        { type: 0x01, host: "010.0.0.1", port: 1 },
        `Cannot encode address: "010.0.0.1" is not an IPv4 address`,
      ],
      [
        { type: 0x04, host: "1.2.3.4", port: 1 },
        `Cannot encode address: "1.2.3.4" is not an IPv6 address`,
      ],
      [
        { type: 0x04, host: "fe80::1%eth0", port: 1 },
        `Cannot encode address: "fe80::1%eth0" is not an IPv6 address`,
      ],
      [
        { type: 0x02 as AddressType, host: "x", port: 1 },
        "Cannot encode address: address type 0x02 is not supported",
      ],
    ];
    for (const [address, message] of cases) {
      assert.throws(
        () => writeAddress(new Uint8Array(300), { offset: 0, address }),
        { name: "TypeError", message },
      );
      assert.throws(() => encodedAddressLength(address), {
        name: "TypeError",
        message,
      });
    }
  });

  it("writeAddress() refuses an empty or 256-byte domain and a bad port", () => {
    const cases: [SocksAddress, string][] = [
      [
        { type: 0x03, host: "", port: 1 },
        "Cannot encode address: domain is 0 bytes, not 1-255",
      ],
      [
        { type: 0x03, host: "d".repeat(256), port: 1 },
        "Cannot encode address: domain is 256 bytes, not 1-255",
      ],
      [
        { type: 0x01, host: "1.2.3.4", port: 70000 },
        "Cannot encode address: port 70000 is not an integer in 0-65535",
      ],
      [
        { type: 0x04, host: "::1", port: -1 },
        "Cannot encode address: port -1 is not an integer in 0-65535",
      ],
      [
        { type: 0x03, host: "a", port: 1.5 },
        "Cannot encode address: port 1.5 is not an integer in 0-65535",
      ],
    ];
    for (const [address, message] of cases) {
      const target = new Uint8Array(300);
      assert.throws(() => writeAddress(target, { offset: 0, address }), {
        name: "RangeError",
        message,
      });
      assert.ok(
        target.every((byte) => byte === 0),
        "nothing written before the throw",
      );
    }
  });
});
