import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseProxyUrl, type ProxyOptions } from "../../src/client/url.ts";

const parsed: Array<[string, ProxyOptions]> = [
  ["socks5://127.0.0.1:1080", {
    host: "127.0.0.1",
    port: 1080,
    resolve: "local",
  }],
  ["socks5h://127.0.0.1:1081", {
    host: "127.0.0.1",
    port: 1081,
    resolve: "proxy",
  }],
  ["SOCKS5H://proxy.example", {
    host: "proxy.example",
    port: 1080,
    resolve: "proxy",
  }],
  ["socks5://proxy.example/", {
    host: "proxy.example",
    port: 1080,
    resolve: "local",
  }],
  ["socks5h://[::1]:9050", { host: "::1", port: 9050, resolve: "proxy" }],
  ["socks5h://[2001:DB8:0::1]", {
    host: "2001:db8::1",
    port: 1080,
    resolve: "proxy",
  }],
  ["socks5h://[::ffff:10.0.0.1]:1", {
    host: "10.0.0.1",
    port: 1,
    resolve: "proxy",
  }],
  ["socks5h://alice:s3cret@127.0.0.1:1080", {
    host: "127.0.0.1",
    port: 1080,
    resolve: "proxy",
    credentials: { username: "alice", password: "s3cret" },
  }],
  ["socks5://alice@[::1]:65535", {
    host: "::1",
    port: 65535,
    resolve: "local",
    credentials: { username: "alice", password: "" },
  }],
  ["socks5h://alice:@h", {
    host: "h",
    port: 1080,
    resolve: "proxy",
    credentials: { username: "alice", password: "" },
  }],
  ["socks5h://us%40er:p%3Aa%2Fs%25s@h:2", {
    host: "h",
    port: 2,
    resolve: "proxy",
    credentials: { username: "us@er", password: "p:a/s%s" },
  }],
  // Unencoded ":" in the password, and "@", "/" and "#" before the last "@".
  ["socks5h://bob:a:b@c/d#e@h:3", {
    host: "h",
    port: 3,
    resolve: "proxy",
    credentials: { username: "bob", password: "a:b@c/d#e" },
  }],
  ["socks5h://%C3%A9l%C3%A8ve:%E2%9C%93@h", {
    host: "h",
    port: 1080,
    resolve: "proxy",
    credentials: { username: "élève", password: "✓" },
  }],
];

const refused: Array<[string, string]> = [
  ["127.0.0.1:1080", "it is not SCHEME://[USER:PASS@]HOST[:PORT]"],
  ["", "it is not SCHEME://[USER:PASS@]HOST[:PORT]"],
  ["http://127.0.0.1:8080", 'scheme "http" is not socks5 or socks5h'],
  ["socks4://127.0.0.1", 'scheme "socks4" is not socks5 or socks5h'],
  ["socks5://", "host is empty"],
  ["socks5://:1080", "host is empty"],
  ["socks5://alice:pw@", "host is empty"],
  ["socks5://h:", "port is empty"],
  ["socks5://h:0", "port 0 is not in 1-65535"],
  ["socks5://h:65536", "port 65536 is not in 1-65535"],
  ["socks5://h:http", 'port "http" is not a number'],
  ["socks5://h:-1", 'port "-1" is not a number'],
  ["socks5://h:123456", 'port "123456" is not a number'],
  ["socks5://::1:1080", "an IPv6 address must be in brackets"],
  ["socks5://[::1:1080", "IPv6 address has no closing bracket"],
  [
    "socks5://[example.com]:1",
    '"example.com" in brackets is not an IPv6 address',
  ],
  ["socks5://[::1]x", '"x" after the IPv6 address is not a port'],
  ["socks5://h/path", '"/path" after the address is not allowed'],
  ["socks5://h?x=1", '"?x=1" after the address is not allowed'],
  ["socks5://h#top", '"#top" after the address is not allowed'],
  ["socks5://a b:1", 'host "a b" has a character hosts cannot have'],
  ["socks5://:pw@h", "username is empty"],
  ["socks5://@h", "username is empty"],
  [`socks5://${"u".repeat(256)}@h`, "username is 256 bytes, not 1-255"],
  [`socks5://u:${"p".repeat(256)}@h`, "password is 256 bytes, not 0-255"],
  ["socks5://%E0%A4%A@h", "username has a malformed percent escape"],
  ["socks5://u:%zz-secret@h", "password has a malformed percent escape"],
];

describe("parseProxyUrl()", () => {
  for (const [text, expected] of parsed) {
    it(`parses ${text}`, () => {
      assert.deepEqual(parseProxyUrl(text), expected);
    });
  }

  for (const [text, details] of refused) {
    it(`refuses ${text.length > 40 ? `${text.slice(0, 40)}…` : text || '""'}`, () => {
      assert.throws(() => parseProxyUrl(text), {
        name: "TypeError",
        message: `Cannot parse proxy URL: ${details}`,
      });
    });
  }

  it("never quotes the password in an error", () => {
    for (
      const text of [
        "socks5://u:hunter2@h:99999",
        "socks5://u:hunter2@h/x",
        "socks5://u:hunter2%zz@h",
        "socks5://u:hunter2@::1:1080",
      ]
    ) {
      assert.throws(() => parseProxyUrl(text), (error: Error) => {
        assert.ok(!error.message.includes("hunter2"), error.message);
        return true;
      });
    }
  });
});
