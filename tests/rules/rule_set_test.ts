import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseRuleLine, type Rule } from "../../src/rules/rule.ts";
import { ruleFromConfig } from "../../src/rules/rule_config.ts";
import {
  type ClientDecision,
  type RuleDecision,
  type RuleRequest,
  RuleSet,
} from "../../src/rules/rule_set.ts";

const BASE: RuleRequest = {
  client: "192.0.2.10",
  user: null,
  command: "connect",
  name: null,
  address: "198.51.100.7",
  port: 443,
};

const ALLOWED: RuleDecision = { allow: true, rule: "default: allow" };

interface Case {
  /** What the row shows. */
  name: string;
  /** Rule lines, action first. */
  rules: string[];
  /** Changes to {@linkcode BASE}. */
  request: Partial<RuleRequest>;
  /** Deny loopback destinations; default false. */
  denyLoopback?: boolean;
  expected: RuleDecision;
}

function decide(row: Case): RuleDecision {
  const rules = new RuleSet(row.rules.map(parseRuleLine), {
    denyLoopback: row.denyLoopback ?? false,
  });
  return rules.check({ ...BASE, ...row.request });
}

function denied(rule: string): RuleDecision {
  return { allow: false, rule };
}

function itDecides(cases: Case[]): void {
  for (const row of cases) {
    it(`check() ${row.name}`, () => {
      assert.deepEqual(decide(row), row.expected);
    });
  }
}

/** One row per request for a single rule: matched → the rule decides. */
function matcherCases(
  line: string,
  requests: Array<[string, Partial<RuleRequest>, boolean]>,
): Case[] {
  return requests.map(([name, request, matches]) => ({
    name: `"${line}" ${matches ? "matches" : "skips"} ${name}`,
    rules: [line],
    request,
    expected: matches ? denied(line) : ALLOWED,
  }));
}

describe("RuleSet matchers", () => {
  itDecides([
    ...matcherCases("deny client=192.0.2.0/24", [
      ["a client inside", { client: "192.0.2.10" }, true],
      ["an IPv4-mapped client inside", { client: "::ffff:192.0.2.10" }, true],
      ["a client outside", { client: "192.0.3.1" }, false],
      ["an IPv6 client", { client: "2001:db8::1" }, false],
    ]),
    ...matcherCases("deny client=192.0.2.10", [
      ["that client", { client: "192.0.2.10" }, true],
      ["the next address", { client: "192.0.2.11" }, false],
    ]),
    ...matcherCases("deny client=2001:db8::/32", [
      ["a client inside", { client: "2001:db8:1::5" }, true],
      ["a client outside", { client: "2001:db9::5" }, false],
      ["an IPv4 client", { client: "192.0.2.10" }, false],
    ]),
    ...matcherCases("deny client=::1", [
      ["that client", { client: "::1" }, true],
      ["another client", { client: "::2" }, false],
    ]),
    ...matcherCases("deny user=alice,bob", [
      ["alice", { user: "alice" }, true],
      ["bob", { user: "bob" }, true],
      ["carol", { user: "carol" }, false],
      ["Alice (names are case-sensitive)", { user: "Alice" }, false],
      ["a client without login", { user: null }, false],
    ]),
    ...matcherCases("deny cmd=bind,udp", [
      ["BIND", { command: "bind" }, true],
      ["UDP", { command: "udp" }, true],
      ["CONNECT", { command: "connect" }, false],
    ]),
    ...matcherCases("deny command=connect", [
      ["CONNECT", { command: "connect" }, true],
      ["BIND", { command: "bind" }, false],
    ]),
    ...matcherCases("deny dest=198.51.100.0/24", [
      ["an address inside", { address: "198.51.100.7" }, true],
      ["a name resolved inside", {
        name: "www.example.com",
        address: "198.51.100.9",
      }, true],
      ["an IPv4-mapped address inside", {
        address: "::ffff:198.51.100.7",
      }, true],
      ["an address outside", { address: "203.0.113.1" }, false],
      ["no address (BIND to a name)", {
        command: "bind",
        name: "peer.example",
        address: null,
      }, false],
    ]),
    ...matcherCases("deny dest=2001:db8::/32", [
      ["an address inside", { address: "2001:db8::80" }, true],
      ["an address outside", { address: "2001:db9::80" }, false],
    ]),
    ...matcherCases("deny dest=198.51.100.7", [
      ["that address", { address: "198.51.100.7" }, true],
      ["a name resolved to it", {
        name: "example.com",
        address: "198.51.100.7",
      }, true],
      ["the next address", { address: "198.51.100.8" }, false],
    ]),
    ...matcherCases("deny dest=example.com", [
      ["that name", { name: "example.com" }, true],
      ["that name in capitals", { name: "EXAMPLE.COM" }, true],
      ["that name with a trailing dot", { name: "example.com." }, true],
      ["a subdomain", { name: "www.example.com" }, false],
      ["a name ending like it", { name: "notexample.com" }, false],
      ["an IP-literal request", { name: null }, false],
    ]),
    ...matcherCases("deny dest=Example.COM.", [
      ["the lower-case name", { name: "example.com" }, true],
    ]),
    ...matcherCases("deny dest=.example.com", [
      ["the bare domain", { name: "example.com" }, true],
      ["a subdomain", { name: "www.example.com" }, true],
      ["a deep subdomain", { name: "a.b.example.com" }, true],
      ["a subdomain in capitals with a trailing dot", {
        name: "WWW.Example.Com.",
      }, true],
      ["a name ending like it", { name: "notexample.com" }, false],
      ["a name containing it", { name: "example.com.evil" }, false],
      ["its parent", { name: "com" }, false],
      ["an IP-literal request", { name: null }, false],
    ]),
    ...matcherCases("deny port=22", [
      ["port 22", { port: 22 }, true],
      ["port 23", { port: 23 }, false],
    ]),
    ...matcherCases("deny port=80,443", [
      ["port 80", { port: 80 }, true],
      ["port 443", { port: 443 }, true],
      ["port 8080", { port: 8080 }, false],
    ]),
    ...matcherCases("deny port=8000-9000", [
      ["port 7999", { port: 7999 }, false],
      ["port 8000", { port: 8000 }, true],
      ["port 8500", { port: 8500 }, true],
      ["port 9000", { port: 9000 }, true],
      ["port 9001", { port: 9001 }, false],
    ]),
    ...matcherCases("deny dest=10.0.0.0/8 port=22", [
      ["both", { address: "10.1.1.1", port: 22 }, true],
      ["the address only", { address: "10.1.1.1", port: 80 }, false],
      ["the port only", { address: "11.0.0.1", port: 22 }, false],
    ]),
    ...matcherCases("deny", [
      ["any request", {}, true],
      [
        "a BIND",
        { command: "bind", address: null, name: "peer.example" },
        true,
      ],
    ]),
  ]);
});

describe("RuleSet order", () => {
  itDecides([
    {
      name: "lets the first matching rule decide (allow before deny)",
      rules: ["allow port=22", "deny port=22,23"],
      request: { port: 22 },
      expected: { allow: true, rule: "allow port=22" },
    },
    {
      name: "falls through to a later rule",
      rules: ["allow port=22", "deny port=22,23"],
      request: { port: 23 },
      expected: denied("deny port=22,23"),
    },
    {
      name: "lets the first matching rule decide (deny before allow)",
      rules: ["deny user=eve", "allow user=eve,alice", "deny"],
      request: { user: "eve" },
      expected: denied("deny user=eve"),
    },
    {
      name: "reaches an allow-list's allow",
      rules: ["deny user=eve", "allow user=eve,alice", "deny"],
      request: { user: "alice" },
      expected: { allow: true, rule: "allow user=eve,alice" },
    },
    {
      name: "reaches an allow-list's final deny",
      rules: ["deny user=eve", "allow user=eve,alice", "deny"],
      request: { user: "bob" },
      expected: denied("deny"),
    },
    {
      name: "allows by default when no rule matches",
      rules: ["deny user=eve", "deny port=25"],
      request: { user: "alice", port: 443 },
      expected: ALLOWED,
    },
    {
      name: "allows by default with no rules",
      rules: [],
      request: {},
      expected: ALLOWED,
    },
  ]);

  it("check() decides the same with rules from the configuration file", () => {
    const rules = new RuleSet([
      ruleFromConfig({ action: "deny", dest: ".example.com", port: [22] }, "r"),
      ruleFromConfig("allow dest=.example.com", "r"),
    ], { denyLoopback: false });
    const request = { ...BASE, name: "ssh.example.com" };
    assert.deepEqual(
      rules.check({ ...request, port: 22 }),
      denied("deny dest=.example.com port=22"),
    );
    assert.deepEqual(rules.check(request), {
      allow: true,
      rule: "allow dest=.example.com",
    });
  });

  it("RuleSet copies its rule list", () => {
    const list: Rule[] = [parseRuleLine("deny port=25")];
    const rules = new RuleSet(list, { denyLoopback: false });
    list.push(parseRuleLine("deny"));
    assert.equal(rules.rules.length, 1);
    assert.deepEqual(rules.check(BASE), ALLOWED);
  });
});

function defaultCases(
  kind: string,
  addresses: string[],
  options: { denyLoopback?: boolean; command?: "connect" | "udp" } = {},
): Case[] {
  return addresses.map((address) => ({
    name: `denies ${address} (${kind}) by default for ${
      options.command ?? "connect"
    }`,
    rules: [],
    request: { address, command: options.command ?? "connect" },
    denyLoopback: options.denyLoopback ?? false,
    expected: denied(`default: ${kind} destination`),
  }));
}

function allowedCases(
  addresses: string[],
  denyLoopback: boolean,
): Case[] {
  return addresses.map((address) => ({
    name: `allows ${address} by default (denyLoopback ${denyLoopback})`,
    rules: [],
    request: { address },
    denyLoopback,
    expected: ALLOWED,
  }));
}

describe("RuleSet default denials", () => {
  itDecides([
    ...defaultCases("link-local", [
      "169.254.0.0",
      "169.254.169.254",
      "169.254.255.255",
      "::ffff:169.254.169.254",
      "fe80::1",
      "febf:ffff::1",
      "fe80::1%eth0",
    ]),
    ...defaultCases("link-local", ["169.254.169.254", "fe80::1"], {
      command: "udp",
    }),
    ...defaultCases("unspecified", [
      "0.0.0.0",
      "0.1.2.3",
      "0.255.255.255",
      "::ffff:0.0.0.0",
      "::",
    ]),
    ...defaultCases("multicast", [
      "224.0.0.1",
      "239.255.255.250",
      "::ffff:239.1.1.1",
      "ff02::1",
      "ff05::1:3",
    ]),
    ...defaultCases("multicast", ["224.0.0.251"], { command: "udp" }),
    ...defaultCases("broadcast", [
      "255.255.255.255",
      "::ffff:255.255.255.255",
    ]),
    ...defaultCases("loopback", [
      "127.0.0.1",
      "127.255.255.254",
      "::ffff:127.0.0.1",
      "::1",
    ], { denyLoopback: true }),
    ...defaultCases("loopback", ["127.0.0.53"], {
      denyLoopback: true,
      command: "udp",
    }),
    ...allowedCases([
      "169.253.255.255",
      "169.255.0.0",
      "fec0::1",
      "fe7f::1",
      "1.0.0.0",
      "::2",
      "223.255.255.255",
      "240.0.0.1",
      "255.255.255.254",
      "fe00::1",
      "127.0.0.1",
      "::1",
      "::ffff:127.0.0.1",
    ], false),
    ...allowedCases(["128.0.0.1", "126.255.255.255", "::2"], true),
    {
      name: "names the deny rule rather than the default it also meets",
      rules: ["deny port=80"],
      request: { address: "169.254.169.254", port: 80 },
      expected: denied("deny port=80"),
    },
  ]);
});

describe("RuleSet lifting defaults", () => {
  itDecides([
    {
      name: "lets an allow with dest open its address",
      rules: ["allow dest=169.254.169.254"],
      request: { address: "169.254.169.254" },
      expected: { allow: true, rule: "allow dest=169.254.169.254" },
    },
    {
      name: "lets an allow with dest open the IPv4-mapped form too",
      rules: ["allow dest=169.254.169.254"],
      request: { address: "::ffff:169.254.169.254" },
      expected: { allow: true, rule: "allow dest=169.254.169.254" },
    },
    {
      name: "lets an allow with a dest range and port open its port",
      rules: ["allow dest=169.254.0.0/16 port=80"],
      request: { address: "169.254.169.254", port: 80 },
      expected: { allow: true, rule: "allow dest=169.254.0.0/16 port=80" },
    },
    {
      name: "keeps the default for a port the allow does not name",
      rules: ["allow dest=169.254.0.0/16 port=80"],
      request: { address: "169.254.169.254", port: 81 },
      expected: denied("default: link-local destination"),
    },
    {
      name: "lets an allow with dest open loopback",
      rules: ["allow dest=127.0.0.0/8,::1"],
      request: { address: "::1" },
      denyLoopback: true,
      expected: { allow: true, rule: "allow dest=127.0.0.0/8,::1" },
    },
    {
      name: "lets an allow naming the host open its loopback address",
      rules: ["allow dest=localhost"],
      request: { name: "localhost", address: "127.0.0.1" },
      denyLoopback: true,
      expected: { allow: true, rule: "allow dest=localhost" },
    },
    {
      name: "keeps the default under an allow with another dest",
      rules: ["allow dest=10.0.0.0/8"],
      request: { address: "169.254.169.254" },
      expected: denied("default: link-local destination"),
    },
    {
      name: "keeps the default under an allow by user",
      rules: ["allow user=alice"],
      request: { user: "alice", address: "169.254.169.254" },
      expected: denied("default: link-local destination"),
    },
    {
      name: "keeps the default under an allow by client",
      rules: ["allow client=192.0.2.0/24"],
      request: { address: "::1" },
      denyLoopback: true,
      expected: denied("default: loopback destination"),
    },
    {
      name: "keeps the default under an allow by port",
      rules: ["allow port=80"],
      request: { address: "224.0.0.1", port: 80 },
      expected: denied("default: multicast destination"),
    },
    {
      name: "keeps the default under an empty allow",
      rules: ["allow"],
      request: { address: "255.255.255.255" },
      expected: denied("default: broadcast destination"),
    },
    {
      name:
        "keeps the default when the first match has no dest, whatever follows",
      rules: ["allow user=alice", "allow dest=169.254.169.254"],
      request: { user: "alice", address: "169.254.169.254" },
      expected: denied("default: link-local destination"),
    },
    {
      name: "allows an ordinary address under an allow by user",
      rules: ["allow user=alice"],
      request: { user: "alice" },
      expected: { allow: true, rule: "allow user=alice" },
    },
  ]);
});

describe("RuleSet resolved addresses", () => {
  itDecides([
    {
      name: "denies localhost resolved to 127.0.0.1 on a non-loopback server",
      rules: [],
      request: { name: "localhost", address: "127.0.0.1" },
      denyLoopback: true,
      expected: denied("default: loopback destination"),
    },
    {
      name: "denies a name resolved to ::1 under an allow without dest",
      rules: ["allow user=alice"],
      request: { user: "alice", name: "evil.example", address: "::1" },
      denyLoopback: true,
      expected: denied("default: loopback destination"),
    },
    {
      name: "denies a name resolved to cloud metadata",
      rules: [],
      request: { name: "attacker.example", address: "169.254.169.254" },
      expected: denied("default: link-local destination"),
    },
    {
      name: "denies a name resolved into a denied range",
      rules: ["deny dest=10.0.0.0/8"],
      request: { name: "intranet.example", address: "10.0.0.5" },
      expected: denied("deny dest=10.0.0.0/8"),
    },
    {
      name: "does not match a host name against an IP-literal request",
      rules: ["deny dest=example.com"],
      request: { name: null, address: "198.51.100.7" },
      expected: ALLOWED,
    },
  ]);
});

describe("RuleSet BIND", () => {
  itDecides([
    {
      name: "exempts BIND from the unspecified default",
      rules: [],
      request: { command: "bind", address: "0.0.0.0", port: 0 },
      expected: ALLOWED,
    },
    {
      name: "exempts BIND from the link-local default",
      rules: [],
      request: { command: "bind", address: "169.254.169.254" },
      expected: ALLOWED,
    },
    {
      name: "exempts BIND from the loopback default",
      rules: ["allow user=alice"],
      request: { command: "bind", user: "alice", address: "127.0.0.1" },
      denyLoopback: true,
      expected: { allow: true, rule: "allow user=alice" },
    },
    {
      name: "decides a BIND to a name with no address",
      rules: [],
      request: { command: "bind", name: "peer.example", address: null },
      expected: ALLOWED,
    },
    {
      name: "still applies deny rules to BIND",
      rules: ["deny cmd=bind"],
      request: { command: "bind", address: "0.0.0.0" },
      expected: denied("deny cmd=bind"),
    },
  ]);
});

describe("RuleSet.checkClient", () => {
  const cases: Array<[string, string[], string, ClientDecision]> = [
    ["is undecided with no rules", [], "192.0.2.1", {
      verdict: "undecided",
      rule: null,
    }],
    [
      "refuses a client a client-only deny matches",
      ["deny client=203.0.113.0/24"],
      "203.0.113.9",
      { verdict: "deny", rule: "deny client=203.0.113.0/24" },
    ],
    [
      "refuses the IPv4-mapped form of a denied client",
      ["deny client=203.0.113.0/24"],
      "::ffff:203.0.113.9",
      { verdict: "deny", rule: "deny client=203.0.113.0/24" },
    ],
    [
      "skips a client-only rule that excludes the client, to the end",
      ["deny client=203.0.113.0/24"],
      "192.0.2.1",
      { verdict: "undecided", rule: null },
    ],
    [
      "accepts a client a client-only allow matches",
      ["allow client=10.0.0.0/8", "deny"],
      "10.1.1.1",
      { verdict: "allow", rule: "allow client=10.0.0.0/8" },
    ],
    [
      "lets an empty rule decide",
      ["allow client=10.0.0.0/8", "deny"],
      "192.0.2.1",
      { verdict: "deny", rule: "deny" },
    ],
    [
      "stops undecided at a rule with other matchers whose client matches",
      ["deny client=10.0.0.0/8 port=22", "deny client=10.0.0.0/8"],
      "10.0.0.1",
      { verdict: "undecided", rule: null },
    ],
    [
      "skips a rule with other matchers whose client excludes the client",
      ["deny client=10.0.0.0/8 port=22", "deny client=192.0.2.0/24"],
      "192.0.2.1",
      { verdict: "deny", rule: "deny client=192.0.2.0/24" },
    ],
    [
      "stops undecided at a rule without a client matcher",
      ["deny user=eve", "deny client=192.0.2.0/24"],
      "192.0.2.1",
      { verdict: "undecided", rule: null },
    ],
    [
      "accepts an IPv6 client a client-only allow matches",
      ["allow client=::1", "deny client=::/0"],
      "::1",
      { verdict: "allow", rule: "allow client=::1" },
    ],
    [
      "refuses an IPv6 client in a denied range",
      ["allow client=::1", "deny client=::/0"],
      "2001:db8::1",
      { verdict: "deny", rule: "deny client=::/0" },
    ],
    [
      "keeps IPv4 clients out of an IPv6 range",
      ["allow client=::1", "deny client=::/0"],
      "10.0.0.1",
      { verdict: "undecided", rule: null },
    ],
    [
      "matches no client range for text that is not an IP",
      ["deny client=0.0.0.0/0,::/0"],
      "not-an-ip",
      { verdict: "undecided", rule: null },
    ],
  ];
  for (const [name, lines, ip, expected] of cases) {
    it(`checkClient() ${name}`, () => {
      const rules = new RuleSet(lines.map(parseRuleLine), {
        denyLoopback: true,
      });
      assert.deepEqual(rules.checkClient(ip), expected);
    });
  }
});
