import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  isLoopback,
  resolveOptions,
  type ServeOptions,
} from "../../src/server/options.ts";

const client = { host: "127.0.0.1", port: 50000 };

function rejects(options: ServeOptions, message: string | RegExp): void {
  assert.throws(
    () => resolveOptions(options),
    (error: unknown) => {
      assert.ok(error instanceof TypeError, String(error));
      if (typeof message === "string") assert.equal(error.message, message);
      else assert.match(error.message, message);
      return true;
    },
  );
}

describe("resolveOptions", () => {
  it("resolveOptions() applies the defaults", () => {
    const config = resolveOptions({});
    assert.deepEqual(config.listen, [{ host: "127.0.0.1", port: 1080 }]);
    assert.equal(config.authenticate, null);
    assert.deepEqual(config.methodsFor("127.0.0.1"), [0x00]);
    assert.equal(config.handshakeTimeout, 10_000);
    assert.equal(config.connectTimeout, 10_000);
    assert.equal(config.idleTimeout, 0);
    assert.equal(config.gracePeriod, 5_000);
    assert.equal(config.bindTimeout, 60_000);
    assert.equal(config.bindPorts, null);
    assert.equal(config.bindWithoutSession, false);
    assert.equal(config.externalAddress, null);
    assert.equal(config.limits.maxPendingHandshakes, 1024);
    assert.equal(config.limits.maxPendingHandshakesPerClient, 64);
    assert.equal(config.limits.maxConnections, 0);
    assert.equal(config.clientIpv6Prefix, 64);
    assert.equal(typeof config.logger.log, "function");
  });

  it("resolveOptions() names clientIpv6Prefix outside 1-128", () => {
    for (const prefix of [0, 129, 64.5]) {
      assert.throws(() => resolveOptions({ clientIpv6Prefix: prefix }), {
        name: "TypeError",
        message:
          `Invalid option clientIpv6Prefix: ${prefix} is not a prefix length (1-128)`,
      });
    }
    assert.equal(
      resolveOptions({ clientIpv6Prefix: 48 }).clientIpv6Prefix,
      48,
    );
  });

  it("resolveOptions() runs one worker and points at the command for more", () => {
    assert.doesNotThrow(() => resolveOptions({ workers: 1 }));
    for (const workers of [0, 2, 1.5]) {
      assert.throws(() => resolveOptions({ workers }), {
        name: "TypeError",
        message:
          "Invalid option workers: serve() runs one worker; for more, run the edgesocks command with --workers N",
      });
    }
  });

  it("resolveOptions() keeps given values", () => {
    const logger = { log() {} };
    const config = resolveOptions({
      listen: ["127.0.0.1:0", "[::1]:1081", { host: "localhost", port: 9 }],
      handshakeTimeout: 0,
      connectTimeout: 1,
      idleTimeout: 300_000,
      gracePeriod: 2_147_483_647,
      logger,
    });
    assert.deepEqual(config.listen, [
      { host: "127.0.0.1", port: 0 },
      { host: "::1", port: 1081 },
      { host: "localhost", port: 9 },
    ]);
    assert.equal(config.handshakeTimeout, 0);
    assert.equal(config.connectTimeout, 1);
    assert.equal(config.idleTimeout, 300_000);
    assert.equal(config.gracePeriod, 2_147_483_647);
    assert.equal(config.logger, logger);
  });

  it("resolveOptions() trusts PROXY headers only from proxyProtocol's networks", () => {
    const none = resolveOptions({ listen: "127.0.0.1:0" });
    assert.equal(none.sendsProxyHeader("127.0.0.1"), false);
    const config = resolveOptions({
      listen: "127.0.0.1:0",
      proxyProtocol: ["10.1.0.0/16", "2001:db8::1"],
    });
    assert.equal(config.sendsProxyHeader("10.1.255.3"), true);
    assert.equal(config.sendsProxyHeader("::ffff:10.1.0.9"), true);
    assert.equal(config.sendsProxyHeader("10.2.0.1"), false);
    assert.equal(config.sendsProxyHeader("2001:db8::1"), true);
    assert.equal(config.sendsProxyHeader("2001:db8::2"), false);
    rejects(
      { proxyProtocol: ["10.0.0.0/8", "10.0.0.0/33"] },
      /^Invalid option proxyProtocol\[1\]: Invalid CIDR "10.0.0.0\/33"/,
    );
    rejects(
      { proxyProtocol: "10.0.0.0/8" as unknown as string[] },
      "Invalid option proxyProtocol: it is not a list of CIDRs",
    );
  });

  it("resolveOptions() names listen for an address it cannot parse", () => {
    rejects(
      { listen: "nonsense" },
      'Invalid option listen: "nonsense" is not HOST:PORT or [IPV6]:PORT',
    );
    rejects(
      { listen: ["127.0.0.1:1080", "::1:1080"] },
      /^Invalid option listen: /,
    );
    rejects(
      { listen: "[example.com]:1080" },
      /^Invalid option listen: .*example\.com/,
    );
  });

  it("resolveOptions() names listen for a port out of range", () => {
    rejects(
      { listen: "127.0.0.1:70000" },
      "Invalid option listen: port 70000 is not in 0-65535",
    );
    rejects(
      { listen: { host: "127.0.0.1", port: 70000 } },
      "Invalid option listen: port 70000 is not in 0-65535",
    );
    rejects(
      { listen: { host: "127.0.0.1", port: -1 } },
      "Invalid option listen: port -1 is not in 0-65535",
    );
    rejects(
      { listen: { host: "127.0.0.1", port: 1.5 } },
      "Invalid option listen: port 1.5 is not in 0-65535",
    );
  });

  it("resolveOptions() names listen for an empty list", () => {
    rejects(
      { listen: [] },
      "Invalid option listen: give at least one address",
    );
  });

  it("resolveOptions() refuses no login on a non-loopback address", () => {
    for (
      const listen of [
        "0.0.0.0:1080",
        "[::]:1080",
        "192.0.2.1:1080",
        ["127.0.0.1:1080", "0.0.0.0:1080"],
        "example.com:1080",
      ]
    ) {
      rejects({ listen }, /^Invalid option noAuth: .*noAuth/);
    }
  });

  it("resolveOptions() serves without login where noAuth says so", () => {
    const config = resolveOptions({ listen: "0.0.0.0:1080", noAuth: true });
    assert.equal(config.authenticate, null);
    assert.deepEqual(config.methodsFor("127.0.0.1"), [0x00]);
    rejects(
      { listen: "0.0.0.0:1080", noAuth: false },
      /^Invalid option noAuth/,
    );
  });

  it("resolveOptions() serves a non-loopback address with users", async () => {
    const config = resolveOptions({
      listen: "0.0.0.0:1080",
      users: { alice: "s3cret" },
    });
    assert.deepEqual(config.methodsFor("127.0.0.1"), [0x02]);
    assert.equal(await config.authenticate?.("alice", "s3cret", client), true);
    assert.equal(await config.authenticate?.("alice", "nope", client), false);
  });

  it("resolveOptions() takes users as a Map", async () => {
    const config = resolveOptions({
      users: new Map([["alice", "s3cret"], ["bob", ""]]),
    });
    assert.deepEqual(config.methodsFor("127.0.0.1"), [0x02]);
    assert.equal(await config.authenticate?.("alice", "s3cret", client), true);
    assert.equal(await config.authenticate?.("bob", "", client), true);
    assert.equal(await config.authenticate?.("carol", "", client), false);
  });

  it("resolveOptions() names users when it lists none", () => {
    rejects({ users: {} }, "Invalid option users: it lists no users");
    rejects({ users: new Map() }, "Invalid option users: it lists no users");
  });

  it("resolveOptions() names users for a password that is not text", () => {
    rejects(
      { users: { alice: 1234 } as unknown as Record<string, string> },
      'Invalid option users: password of "alice" is not a string',
    );
  });

  it("resolveOptions() prefers authenticate to users", () => {
    const authenticate = () => true;
    const config = resolveOptions({ authenticate, users: { a: "b" } });
    assert.equal(config.authenticate, authenticate);
    assert.deepEqual(config.methodsFor("127.0.0.1"), [0x02]);
  });

  it("resolveOptions() names authenticate when it is not a function", () => {
    rejects(
      { authenticate: "yes" as unknown as () => boolean },
      "Invalid option authenticate: it is not a function",
    );
  });

  it("resolveOptions() names each duration that is out of range", () => {
    const keys = [
      "handshakeTimeout",
      "connectTimeout",
      "idleTimeout",
      "gracePeriod",
      "bindTimeout",
    ] as const;
    for (const key of keys) {
      for (const value of [-1, NaN, Infinity, 2_147_483_648]) {
        rejects(
          { [key]: value },
          `Invalid option ${key}: ${value} is not a duration in ms (0-2147483647)`,
        );
      }
      rejects(
        { [key]: "10" as unknown as number },
        `Invalid option ${key}: 10 is not a duration in ms (0-2147483647)`,
      );
    }
  });
});

describe("resolveOptions for BIND and UDP", () => {
  it("resolveOptions() takes a BIND port range", () => {
    assert.deepEqual(
      resolveOptions({ bindPorts: [40000, 40010] }).bindPorts,
      [40000, 40010],
    );
    assert.deepEqual(resolveOptions({ bindPorts: [1, 1] }).bindPorts, [1, 1]);
    assert.deepEqual(
      resolveOptions({ bindPorts: [65535, 65535] }).bindPorts,
      [65535, 65535],
    );
  });

  it("resolveOptions() names bindPorts for a range it cannot use", () => {
    const bad: unknown[] = [[0, 10], [10, 5], [1, 70000], [1.5, 2], [5], "x"];
    for (const ports of bad) {
      rejects(
        { bindPorts: ports as [number, number] },
        `Invalid option bindPorts: ${
          JSON.stringify(ports)
        } is not [low, high] with 1 <= low <= high <= 65535`,
      );
    }
  });

  it("resolveOptions() turns bindWithoutSession on only for true", () => {
    assert.equal(
      resolveOptions({ bindWithoutSession: true }).bindWithoutSession,
      true,
    );
    assert.equal(
      resolveOptions({ bindWithoutSession: "yes" as unknown as boolean })
        .bindWithoutSession,
      false,
    );
  });

  it("resolveOptions() takes an external IP address in canonical form", () => {
    const cases: Array<[string, string]> = [
      ["203.0.113.5", "203.0.113.5"],
      ["::ffff:203.0.113.5", "203.0.113.5"],
      ["2001:DB8:0:0:0:0:0:1", "2001:db8::1"],
    ];
    for (const [input, expected] of cases) {
      assert.equal(
        resolveOptions({ externalAddress: input }).externalAddress,
        expected,
      );
    }
  });

  it("resolveOptions() names externalAddress when it is not an IP address", () => {
    for (const address of ["example.com", "", "1.2.3", "[::1]"]) {
      rejects(
        { externalAddress: address },
        `Invalid option externalAddress: ${
          JSON.stringify(address)
        } is not an IPv4 or IPv6 address`,
      );
    }
  });
});

describe("isLoopback", () => {
  it("isLoopback() is true for 127.0.0.0/8, ::1 and localhost only", () => {
    const cases: Array<[string, boolean]> = [
      ["127.0.0.1", true],
      ["127.0.0.0", true],
      ["127.255.255.254", true],
      ["::1", true],
      ["0:0:0:0:0:0:0:1", true],
      ["localhost", true],
      ["128.0.0.1", false],
      ["126.255.255.255", false],
      ["0.0.0.0", false],
      ["::", false],
      ["::2", false],
      ["1::1", false],
      ["10.0.0.1", false],
      ["example.com", false],
      ["127.0.0.1.example.com", false],
      ["", false],
    ];
    for (const [host, expected] of cases) {
      assert.equal(isLoopback(host), expected, host);
    }
  });
});
