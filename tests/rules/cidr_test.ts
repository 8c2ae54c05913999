import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { cidrContains, parseCidr } from "../../src/rules/cidr.ts";
import { RuleError } from "../../src/rules/rule_error.ts";

describe("parseCidr", () => {
  const parsed: Array<[string, 4 | 6, number[], number]> = [
    ["10.0.0.0/8", 4, [10, 0, 0, 0], 8],
    ["10.1.2.3/8", 4, [10, 0, 0, 0], 8],
    ["10.255.0.0/9", 4, [10, 128, 0, 0], 9],
    ["192.0.2.7", 4, [192, 0, 2, 7], 32],
    ["192.0.2.7/32", 4, [192, 0, 2, 7], 32],
    ["0.0.0.0/0", 4, [0, 0, 0, 0], 0],
    ["2001:db8::/32", 6, [0x20, 0x01, 0x0d, 0xb8, ...zeros(12)], 32],
    [
      "2001:db8:ffff::1/33",
      6,
      [0x20, 0x01, 0x0d, 0xb8, 0x80, ...zeros(11)],
      33,
    ],
    ["::1", 6, [...zeros(15), 1], 128],
    ["::/0", 6, zeros(16), 0],
    ["::ffff:10.0.0.0/104", 4, [10, 0, 0, 0], 8],
    ["::ffff:169.254.169.254", 4, [169, 254, 169, 254], 32],
    ["::ffff:0:0/96", 4, [0, 0, 0, 0], 0],
    ["::ffff:0:0/95", 6, [...zeros(10), 0xff, 0xfe, ...zeros(4)], 95],
  ];
  for (const [text, family, bytes, prefix] of parsed) {
    it(`parseCidr() reads ${text}`, () => {
      assert.deepEqual(parseCidr(text), {
        family,
        bytes: new Uint8Array(bytes),
        prefix,
        text,
      });
    });
  }

  const refused: Array<[string, string]> = [
    ["10.0.0.0/33", "prefix 33 is longer than 32"],
    ["::/129", "prefix 129 is longer than 128"],
    ["10.0.0/8", '"10.0.0" is not an IPv4 or IPv6 address'],
    ["10.0.0.0/", 'prefix "" is not a number'],
    ["10.0.0.0/x", 'prefix "x" is not a number'],
    ["10.0.0.0/-1", 'prefix "-1" is not a number'],
    ["10.0.0.0/8/8", 'prefix "8/8" is not a number'],
    ["example.com", '"example.com" is not an IP address or CIDR'],
    ["fe80::1%eth0", '"fe80::1%eth0" is not an IP address or CIDR'],
    ["", '"" is not an IP address or CIDR'],
  ];
  for (const [text, problem] of refused) {
    it(`parseCidr() refuses ${JSON.stringify(text)}: ${problem}`, () => {
      assert.throws(() => parseCidr(text), {
        name: "RuleError",
        message: `Invalid CIDR "${text}": ${problem}`,
      });
      assert.throws(() => parseCidr(text), RuleError);
    });
  }
});

describe("cidrContains", () => {
  const cases: Array<[string, string, boolean]> = [
    ["10.0.0.0/8", "10.0.0.0", true],
    ["10.0.0.0/8", "10.255.255.255", true],
    ["10.0.0.0/8", "9.255.255.255", false],
    ["10.0.0.0/8", "11.0.0.0", false],
    ["10.128.0.0/9", "10.128.0.1", true],
    ["10.128.0.0/9", "10.127.255.255", false],
    ["192.0.2.7", "192.0.2.7", true],
    ["192.0.2.7", "192.0.2.8", false],
    ["0.0.0.0/0", "203.0.113.1", true],
    ["0.0.0.0/0", "::1", false],
    ["10.0.0.0/8", "::ffff:10.1.2.3", true],
    ["10.0.0.0/8", "::ffff:a01:203", true],
    ["10.0.0.0/8", "::ffff:11.1.2.3", false],
    ["::ffff:10.0.0.0/104", "10.9.9.9", true],
    ["2001:db8::/32", "2001:db8:ffff::1", true],
    ["2001:db8::/32", "2001:DB8::1", true],
    ["2001:db8::/32", "2001:db9::", false],
    ["::/0", "::1", true],
    ["::/0", "10.0.0.1", false],
    ["::/0", "::ffff:10.0.0.1", false],
    ["::1", "0:0:0:0:0:0:0:1", true],
    ["fe80::/10", "fe80::1%eth0", true],
    ["10.0.0.0/8", "example.com", false],
    ["10.0.0.0/8", "010.0.0.1", false],
    ["10.0.0.0/8", "", false],
  ];
  for (const [cidr, ip, expected] of cases) {
    it(`cidrContains() ${cidr} ${expected ? "holds" : "lacks"} ${ip}`, () => {
      assert.equal(cidrContains(parseCidr(cidr), ip), expected);
    });
  }
});

function zeros(count: number): number[] {
  return new Array<number>(count).fill(0);
}
