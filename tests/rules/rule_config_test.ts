import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseCidr } from "../../src/rules/cidr.ts";
import type { Rule } from "../../src/rules/rule.ts";
import { ruleFromConfig } from "../../src/rules/rule_config.ts";
import { RuleError } from "../../src/rules/rule_error.ts";

describe("ruleFromConfig", () => {
  const read: Array<[string, unknown, Rule]> = [
    ["a rule string", "deny dest=10.0.0.0/8 port=22", {
      action: "deny",
      text: "deny dest=10.0.0.0/8 port=22",
      dest: [{ kind: "cidr", cidr: parseCidr("10.0.0.0/8") }],
      port: [{ low: 22, high: 22 }],
    }],
    ["an object with every key", {
      action: "deny",
      client: "192.0.2.0/24",
      user: ["alice", "bob"],
      cmd: ["connect"],
      dest: ["10.0.0.0/8", ".example.com"],
      port: [22, "8000-9000"],
    }, {
      action: "deny",
      text:
        "deny client=192.0.2.0/24 user=alice,bob cmd=connect dest=10.0.0.0/8,.example.com port=22,8000-9000",
      client: [parseCidr("192.0.2.0/24")],
      user: ["alice", "bob"],
      command: ["connect"],
      dest: [
        { kind: "cidr", cidr: parseCidr("10.0.0.0/8") },
        { kind: "suffix", suffix: "example.com" },
      ],
      port: [{ low: 22, high: 22 }, { low: 8000, high: 9000 }],
    }],
    ["an action alone", { action: "allow" }, {
      action: "allow",
      text: "allow",
    }],
    ["keys in the order written, command and comma lists", {
      port: "80,443",
      command: "udp",
      action: "Allow",
      user: "carol",
    }, {
      action: "allow",
      text: "allow port=80,443 command=udp user=carol",
      port: [{ low: 80, high: 80 }, { low: 443, high: 443 }],
      command: ["udp"],
      user: ["carol"],
    }],
    ["a single port number", { action: "deny", port: 25 }, {
      action: "deny",
      text: "deny port=25",
      port: [{ low: 25, high: 25 }],
    }],
  ];
  for (const [name, value, rule] of read) {
    it(`ruleFromConfig() reads ${name}`, () => {
      assert.deepEqual(ruleFromConfig(value, "rules[0]"), rule);
    });
  }

  const refused: Array<[string, unknown, string]> = [
    ["a number", 42, "rules[2]: expected a rule string or object"],
    ["null", null, "rules[2]: expected a rule string or object"],
    ["an array", ["deny"], "rules[2]: expected a rule string or object"],
    [
      "a string without an action",
      "permit dest=10.0.0.0/8",
      'rules[2]: Invalid rule "permit": expected allow or deny first',
    ],
    [
      "a string with a bad token",
      "deny dest=10.0.0.0/33",
      'rules[2]: Invalid rule "dest=10.0.0.0/33": prefix 33 is longer than 32',
    ],
    [
      "an object without action",
      { dest: "10.0.0.0/8" },
      'rules[2].action: expected "allow" or "deny"',
    ],
    [
      "an object with a bad action",
      { action: "permit" },
      'rules[2].action: expected "allow" or "deny"',
    ],
    [
      "an unknown key",
      { action: "deny", host: "example.com" },
      "rules[2].host: unknown key, expected action, client, user, cmd, dest or port",
    ],
    [
      "cmd and command",
      { action: "deny", cmd: "connect", command: "bind" },
      'rules[2].command: repeats "cmd"',
    ],
    [
      "a port string out of range",
      { action: "deny", port: "70000" },
      'rules[2].port: "70000" is not a port or range',
    ],
    [
      "a port number out of range in a list",
      { action: "deny", port: [22, 70000] },
      "rules[2].port[1]: 70000 is not a port or range",
    ],
    [
      "a fractional port",
      { action: "deny", port: [22.5] },
      "rules[2].port[0]: 22.5 is not a port or range",
    ],
    [
      "a port of the wrong type",
      { action: "deny", port: true },
      "rules[2].port: expected a port number, a string or an array of them",
    ],
    [
      "a number where a string belongs",
      { action: "deny", dest: [5] },
      "rules[2].dest[0]: expected a string or an array of strings",
    ],
    [
      "an empty list",
      { action: "deny", dest: [] },
      "rules[2].dest: list is empty",
    ],
    [
      "an empty string",
      { action: "deny", user: [""] },
      "rules[2].user[0]: value is empty",
    ],
    [
      "a bad CIDR in a list",
      { action: "deny", client: ["10.0.0.0/8", "10.0.0.0/33"] },
      "rules[2].client[1]: prefix 33 is longer than 32",
    ],
    [
      "a bad command",
      { action: "deny", cmd: "associate" },
      'rules[2].cmd: "associate" is not connect, bind or udp',
    ],
    [
      "a bad destination",
      { action: "deny", dest: "example.com:443" },
      'rules[2].dest: "example.com:443" is not an IP address, CIDR, host name or .suffix',
    ],
  ];
  for (const [name, value, message] of refused) {
    it(`ruleFromConfig() refuses ${name}`, () => {
      assert.throws(() => ruleFromConfig(value, "rules[2]"), {
        name: "RuleError",
        message,
      });
      assert.throws(() => ruleFromConfig(value, "rules[2]"), RuleError);
    });
  }
});
