import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseCidr } from "../../src/rules/cidr.ts";
import {
  parseRule,
  parseRuleLine,
  type Rule,
  RULE_GRAMMAR,
  type RuleAction,
} from "../../src/rules/rule.ts";
import { RuleError } from "../../src/rules/rule_error.ts";

describe("parseRule", () => {
  const parsed: Array<[RuleAction, string, Rule]> = [
    ["allow", "", { action: "allow", text: "allow" }],
    ["deny", "  \t ", { action: "deny", text: "deny" }],
    ["deny", "client=10.0.0.0/8", {
      action: "deny",
      text: "deny client=10.0.0.0/8",
      client: [parseCidr("10.0.0.0/8")],
    }],
    ["deny", "client=192.0.2.7,2001:db8::/32,::1", {
      action: "deny",
      text: "deny client=192.0.2.7,2001:db8::/32,::1",
      client: [
        parseCidr("192.0.2.7"),
        parseCidr("2001:db8::/32"),
        parseCidr("::1"),
      ],
    }],
    ["allow", "user=alice", {
      action: "allow",
      text: "allow user=alice",
      user: ["alice"],
    }],
    ["allow", "user=alice,Bob,a=b", {
      action: "allow",
      text: "allow user=alice,Bob,a=b",
      user: ["alice", "Bob", "a=b"],
    }],
    ["deny", "cmd=connect,BIND,udp", {
      action: "deny",
      text: "deny cmd=connect,BIND,udp",
      command: ["connect", "bind", "udp"],
    }],
    ["deny", "command=udp", {
      action: "deny",
      text: "deny command=udp",
      command: ["udp"],
    }],
    ["deny", "dest=10.0.0.0/8,fd00::/8,192.0.2.1,::1", {
      action: "deny",
      text: "deny dest=10.0.0.0/8,fd00::/8,192.0.2.1,::1",
      dest: [
        { kind: "cidr", cidr: parseCidr("10.0.0.0/8") },
        { kind: "cidr", cidr: parseCidr("fd00::/8") },
        { kind: "cidr", cidr: parseCidr("192.0.2.1") },
        { kind: "cidr", cidr: parseCidr("::1") },
      ],
    }],
    ["deny", "dest=Example.COM.,localhost,_srv.example.com,xn--bcher-kva.de", {
      action: "deny",
      text:
        "deny dest=Example.COM.,localhost,_srv.example.com,xn--bcher-kva.de",
      dest: [
        { kind: "host", host: "example.com" },
        { kind: "host", host: "localhost" },
        { kind: "host", host: "_srv.example.com" },
        { kind: "host", host: "xn--bcher-kva.de" },
      ],
    }],
    ["allow", "dest=.example.com,.Corp.Example.", {
      action: "allow",
      text: "allow dest=.example.com,.Corp.Example.",
      dest: [
        { kind: "suffix", suffix: "example.com" },
        { kind: "suffix", suffix: "corp.example" },
      ],
    }],
    ["deny", "port=22", {
      action: "deny",
      text: "deny port=22",
      port: [{ low: 22, high: 22 }],
    }],
    ["deny", "port=80,443,0,65535", {
      action: "deny",
      text: "deny port=80,443,0,65535",
      port: [
        { low: 80, high: 80 },
        { low: 443, high: 443 },
        { low: 0, high: 0 },
        { low: 65535, high: 65535 },
      ],
    }],
    ["deny", "port=8000-9000,25-25", {
      action: "deny",
      text: "deny port=8000-9000,25-25",
      port: [{ low: 8000, high: 9000 }, { low: 25, high: 25 }],
    }],
    [
      "deny",
      "\tdest=10.0.0.0/8   port=22 \n user=eve cmd=connect client=::/0 ",
      {
        action: "deny",
        text: "deny dest=10.0.0.0/8 port=22 user=eve cmd=connect client=::/0",
        dest: [{ kind: "cidr", cidr: parseCidr("10.0.0.0/8") }],
        port: [{ low: 22, high: 22 }],
        user: ["eve"],
        command: ["connect"],
        client: [parseCidr("::/0")],
      },
    ],
  ];
  for (const [action, text, rule] of parsed) {
    it(`parseRule() reads ${action} ${JSON.stringify(text)}`, () => {
      assert.deepEqual(parseRule(action, text), rule);
    });
  }

  const refused: Array<[string, string, string]> = [
    ["dest=10.0.0.0/33", "dest=10.0.0.0/33", "prefix 33 is longer than 32"],
    ["client=fe80::/129", "client=fe80::/129", "prefix 129 is longer than 128"],
    [
      "client=10.0.0/8",
      "client=10.0.0/8",
      '"10.0.0" is not an IPv4 or IPv6 address',
    ],
    ["client=10.0.0.0/x", "client=10.0.0.0/x", 'prefix "x" is not a number'],
    [
      "client=example.com",
      "client=example.com",
      '"example.com" is not an IP address or CIDR',
    ],
    [
      "10.0.0.0/8",
      "10.0.0.0/8",
      "expected KEY=VALUE, KEY is client, user, cmd, dest or port",
    ],
    [
      "host=example.com",
      "host=example.com",
      'unknown key "host", KEY is client, user, cmd, dest or port',
    ],
    [
      "PORT=22",
      "PORT=22",
      'unknown key "PORT", KEY is client, user, cmd, dest or port',
    ],
    [
      "=22",
      "=22",
      'unknown key "", KEY is client, user, cmd, dest or port',
    ],
    ["port=22 port=80", "port=80", 'key "port" is given twice'],
    ["cmd=connect command=bind", "command=bind", 'key "command" repeats "cmd"'],
    ["user=", "user=", "value is empty"],
    ["port=80,,443", "port=80,,443", '"80,,443" has an empty item'],
    ["port=80,", "port=80,", '"80," has an empty item'],
    [
      "cmd=associate",
      "cmd=associate",
      '"associate" is not connect, bind or udp',
    ],
    [
      "dest=example.com:443",
      "dest=example.com:443",
      '"example.com:443" is not an IP address, CIDR, host name or .suffix',
    ],
    [
      "dest=10.0.0",
      "dest=10.0.0",
      '"10.0.0" is not an IP address, CIDR, host name or .suffix',
    ],
    [
      "dest=-bad.example",
      "dest=-bad.example",
      '"-bad.example" is not an IP address, CIDR, host name or .suffix',
    ],
    [
      "dest=*.example.com",
      "dest=*.example.com",
      '"*.example.com" is not a destination: write ".example.com" for a domain and its subdomains',
    ],
    [
      "dest=.",
      "dest=.",
      '"." is not a domain suffix such as .example.com',
    ],
    [
      "dest=..example.com",
      "dest=..example.com",
      '"..example.com" is not a domain suffix such as .example.com',
    ],
    ["port=70000", "port=70000", '"70000" is not a port or range'],
    ["port=http", "port=http", '"http" is not a port or range'],
    ["port=80-", "port=80-", '"80-" is not a port or range'],
    [
      "port=9000-8000",
      "port=9000-8000",
      '"9000-8000" is not a port or range: 9000 is above 8000',
    ],
  ];
  for (const [text, token, problem] of refused) {
    it(`parseRule() refuses ${JSON.stringify(text)}: ${problem}`, () => {
      assert.throws(() => parseRule("deny", text), {
        name: "RuleError",
        message: `Invalid rule "${token}": ${problem}`,
      });
      assert.throws(() => parseRule("deny", text), RuleError);
    });
  }
});

describe("parseRuleLine", () => {
  const parsed: Array<[string, Rule]> = [
    ["deny dest=10.0.0.0/8 port=22", {
      action: "deny",
      text: "deny dest=10.0.0.0/8 port=22",
      dest: [{ kind: "cidr", cidr: parseCidr("10.0.0.0/8") }],
      port: [{ low: 22, high: 22 }],
    }],
    ["  ALLOW   user=alice ", {
      action: "allow",
      text: "allow user=alice",
      user: ["alice"],
    }],
    ["allow", { action: "allow", text: "allow" }],
    ["Deny", { action: "deny", text: "deny" }],
  ];
  for (const [line, rule] of parsed) {
    it(`parseRuleLine() reads ${JSON.stringify(line)}`, () => {
      assert.deepEqual(parseRuleLine(line), rule);
    });
  }

  const refused: Array<[string, string]> = [
    [
      "permit dest=10.0.0.0/8",
      'Invalid rule "permit": expected allow or deny first',
    ],
    [
      "dest=10.0.0.0/8",
      'Invalid rule "dest=10.0.0.0/8": expected allow or deny first',
    ],
    ["", 'Invalid rule "": expected allow or deny first'],
    [
      "deny port=0x16",
      'Invalid rule "port=0x16": "0x16" is not a port or range',
    ],
  ];
  for (const [line, message] of refused) {
    it(`parseRuleLine() refuses ${JSON.stringify(line)}`, () => {
      assert.throws(() => parseRuleLine(line), { name: "RuleError", message });
    });
  }
});

describe("RULE_GRAMMAR", () => {
  it("RULE_GRAMMAR names every key and the defaults, in lines of at most 80", () => {
    assert.ok(RULE_GRAMMAR.length > 200);
    for (
      const word of [
        "client=",
        "user=",
        "cmd=",
        "dest=",
        "port=",
        "8000-9000",
        ".example.com",
        "169.254.0.0/16",
        "127.0.0.0/8",
        "CONNECT and UDP",
      ]
    ) {
      assert.ok(RULE_GRAMMAR.includes(word), word);
    }
    assert.ok(RULE_GRAMMAR.endsWith("\n"));
    for (const line of RULE_GRAMMAR.split("\n")) {
      assert.ok(line.length <= 80, line);
    }
  });
});
