import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  buildSettings,
  HELP,
  parseCommandLine,
} from "../../src/cli/parse_args.ts";
import { SETTINGS, UsageError } from "../../src/cli/settings.ts";

function settingsOf(args: string[], config?: { value: unknown; file: string }) {
  const command = parseCommandLine(args);
  assert.equal(command.kind, "serve");
  return buildSettings(
    command as Extract<typeof command, { kind: "serve" }>,
    config,
  );
}

function usageError(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof UsageError, `not a UsageError: ${error}`);
    assert.match(error.message, pattern);
    return true;
  });
}

describe("parseCommandLine()", () => {
  it("gives empty settings for no arguments", () => {
    const settings = settingsOf([]);
    assert.deepEqual(settings.options, {});
    assert.deepEqual(settings.rules, []);
    assert.deepEqual(settings.usersFiles, []);
    assert.equal(settings.logLevel, undefined);
    assert.equal(settings.logFormat, undefined);
    assert.equal(settings.metrics, undefined);
  });

  it("reads every flag", () => {
    const settings = settingsOf([
      "--listen=127.0.0.1:0",
      "--listen",
      "[::1]:1080",
      "--user",
      "alice:s3cret",
      "--user",
      "bob:",
      "--users",
      "a.txt",
      "--no-auth",
      "--allow-no-auth",
      "10.0.0.0/8",
      "--handshake-timeout",
      "500ms",
      "--connect-timeout",
      "2s",
      "--idle-timeout",
      "5m",
      "--bind-timeout",
      "30s",
      "--bind-ports",
      "40000-40010",
      "--bind-without-session",
      "--external-address",
      "203.0.113.7",
      "--proxy-protocol",
      "10.0.0.0/16",
      "--proxy-protocol",
      "2001:db8::/32",
      "--max-connections",
      "100",
      "--max-connections-per-client",
      "10",
      "--max-connections-per-user",
      "20",
      "--max-pending-handshakes",
      "50",
      "--max-pending-handshakes-per-client",
      "5",
      "--client-ipv6-prefix",
      "56",
      "--max-binds-per-user",
      "2",
      "--max-udp-per-user",
      "3",
      "--login-failures",
      "4",
      "--login-window",
      "30s",
      "--login-block",
      "10m",
      "--upstream",
      "socks5h://bob:p%40ss@[::1]:1081",
      "--metrics",
      "127.0.0.1:9100",
      "--log-level",
      "debug",
      "--log-format",
      "text",
    ]);
    assert.deepEqual(settings.options, {
      listen: ["127.0.0.1:0", "[::1]:1080"],
      users: new Map([["alice", "s3cret"], ["bob", ""]]),
      noAuth: true,
      allowNoAuth: ["10.0.0.0/8"],
      handshakeTimeout: 500,
      connectTimeout: 2000,
      idleTimeout: 300_000,
      bindTimeout: 30_000,
      bindPorts: [40000, 40010],
      bindWithoutSession: true,
      externalAddress: "203.0.113.7",
      proxyProtocol: ["10.0.0.0/16", "2001:db8::/32"],
      clientIpv6Prefix: 56,
      limits: {
        maxConnections: 100,
        maxConnectionsPerClient: 10,
        maxConnectionsPerUser: 20,
        maxPendingHandshakes: 50,
        maxPendingHandshakesPerClient: 5,
        maxBindsPerUser: 2,
        maxUdpPerUser: 3,
      },
      loginThrottle: { failures: 4, window: 30_000, block: 600_000 },
      upstream: {
        host: "::1",
        port: 1081,
        credentials: { username: "bob", password: "p@ss" },
        resolve: "proxy",
      },
    });
    assert.deepEqual(settings.usersFiles, ["a.txt"]);
    assert.equal(settings.metrics, "127.0.0.1:9100");
    assert.equal(settings.logLevel, "debug");
    assert.equal(settings.logFormat, "text");
  });

  it("keeps --allow and --deny rules in the order given", () => {
    const settings = settingsOf([
      "--deny",
      "dest=10.0.0.0/8 port=22",
      "--allow",
      "user=alice dest=.example.com",
      "--deny",
      "",
    ]);
    assert.deepEqual(settings.rules.map((rule) => rule.text), [
      "deny dest=10.0.0.0/8 port=22",
      "allow user=alice dest=.example.com",
      "deny",
    ]);
  });

  it("answers --help, --version and hash-password before anything else", () => {
    assert.deepEqual(parseCommandLine(["--help"]), { kind: "help" });
    assert.deepEqual(parseCommandLine(["-v"]), { kind: "version" });
    assert.deepEqual(parseCommandLine(["--listen", "x", "-h"]), {
      kind: "help",
    });
    assert.deepEqual(parseCommandLine(["hash-password", "--user", "a"]), {
      kind: "hash-password",
      args: ["--user", "a"],
    });
  });

  it("names the flag of every mistake", () => {
    usageError(() => settingsOf(["--bogus"]), /--bogus/);
    usageError(() => settingsOf(["--listen"]), /--listen/);
    usageError(
      () => settingsOf(["--log-level", "loud"]),
      /^--log-level: "loud"/,
    );
    usageError(
      () => settingsOf(["--log-format", "xml"]),
      /^--log-format: "xml"/,
    );
    usageError(
      () => settingsOf(["--idle-timeout", "5x"]),
      /^--idle-timeout: "5x"/,
    );
    usageError(
      () => settingsOf(["--user", "nocolon"]),
      /^--user: expected NAME:PASSWORD/,
    );
    usageError(
      () => settingsOf(["--user", "a:1", "--user", "a:2"]),
      /^--user: user "a" is given twice/,
    );
    usageError(
      () => settingsOf(["--max-connections=-1"]),
      /^--max-connections: "-1" is not a whole number/,
    );
    usageError(
      () => settingsOf(["--client-ipv6-prefix", "129"]),
      /^--client-ipv6-prefix: 129 is not a prefix length 1-128/,
    );
    usageError(
      () => settingsOf(["--bind-ports", "5-1"]),
      /^--bind-ports: "5-1" is not a port range/,
    );
    usageError(
      () => settingsOf(["--deny", "dest=10.0.0.0/33"]),
      /^--deny: Invalid rule "dest=10\.0\.0\.0\/33"/,
    );
    usageError(
      () => settingsOf(["--upstream", "http://proxy:8080"]),
      /^--upstream: /,
    );
    usageError(() => settingsOf(["extra"]), /extra/);
  });
});

describe("durations, counts and ranges", () => {
  it("converts every duration unit to milliseconds", () => {
    const cases: [string, number][] = [
      ["250ms", 250],
      ["10s", 10_000],
      ["1.5s", 1500],
      [
        "2m",
        120_000,
      ],
      ["1h", 3_600_000],
      ["30", 30_000],
      ["0", 0],
    ];
    for (const [text, ms] of cases) {
      assert.equal(
        settingsOf(["--connect-timeout", text]).options.connectTimeout,
        ms,
        text,
      );
    }
  });

  it("rejects negative, garbage and too large durations", () => {
    for (const text of ["-1s", "", "s", "1d", "1e3", "10 s", "999h"]) {
      usageError(
        () => settingsOf([`--connect-timeout=${text}`]),
        /^--connect-timeout: /,
      );
    }
  });

  it("reads port ranges and rejects reversed, zero and out-of-range ports", () => {
    assert.deepEqual(
      settingsOf(["--bind-ports", "1-65535"]).options.bindPorts,
      [1, 65535],
    );
    for (const text of ["0-10", "10-5", "1-65536", "80", "a-b", "-1-5"]) {
      usageError(() => settingsOf([`--bind-ports=${text}`]), /^--bind-ports: /);
    }
  });
});

describe("buildSettings() with a config file", () => {
  const file = "edgesocks.json";

  it("takes every key of the file, numbers as seconds and counts", () => {
    const settings = settingsOf([], {
      file,
      value: {
        listen: ["127.0.0.1:0"],
        user: ["alice:s3cret"],
        users: "users.txt",
        "no-auth": true,
        "idle-timeout": 30,
        "connect-timeout": "2s",
        "max-connections": 100,
        rules: ["deny dest=10.0.0.0/8", { action: "allow", user: "alice" }],
        metrics: "127.0.0.1:9100",
        "log-level": "warn",
      },
    });
    assert.deepEqual(settings.options, {
      listen: ["127.0.0.1:0"],
      users: new Map([["alice", "s3cret"]]),
      noAuth: true,
      idleTimeout: 30_000,
      connectTimeout: 2000,
      limits: { maxConnections: 100 },
    });
    assert.deepEqual(settings.usersFiles, ["users.txt"]);
    assert.deepEqual(settings.rules.map((r) => r.text), [
      "deny dest=10.0.0.0/8",
      "allow user=alice",
    ]);
    assert.equal(settings.metrics, "127.0.0.1:9100");
    assert.equal(settings.logLevel, "warn");
  });

  it("lets flags win, and puts flag rules before the file's", () => {
    const settings = settingsOf(
      ["--listen", "[::1]:0", "--deny", "port=25", "--idle-timeout", "1m"],
      {
        file,
        value: {
          listen: ["127.0.0.1:0", "127.0.0.2:0"],
          "idle-timeout": "5m",
          "connect-timeout": "3s",
          rules: ["allow dest=.example.com"],
        },
      },
    );
    assert.deepEqual(settings.options.listen, ["[::1]:0"]);
    assert.equal(settings.options.idleTimeout, 60_000);
    assert.equal(settings.options.connectTimeout, 3000);
    assert.deepEqual(settings.rules.map((r) => r.text), [
      "deny port=25",
      "allow dest=.example.com",
    ]);
  });

  it("names the file and key path of every mistake", () => {
    const cases: [unknown, RegExp][] = [
      [[], /^edgesocks\.json: the top level is not a JSON object$/],
      [{ lisen: [] }, /^edgesocks\.json: lisen: there is no such setting/],
      [
        { config: "x.json" },
        /^edgesocks\.json: config: there is no such setting/,
      ],
      [
        { allow: ["port=1"] },
        /^edgesocks\.json: allow: there is no such setting/,
      ],
      [
        { "no-auth": "yes" },
        /^edgesocks\.json: no-auth: "yes" is not true or false$/,
      ],
      [
        { listen: [1080, {}] },
        /^edgesocks\.json: listen\[1\]: \{\} is not a string or a list of strings$/,
      ],
      [
        { "idle-timeout": "soon" },
        /^edgesocks\.json: idle-timeout: "soon" is not a duration/,
      ],
      [
        { "max-connections": -5 },
        /^edgesocks\.json: max-connections: "-5" is not a whole number/,
      ],
      [
        { rules: "deny" },
        /^edgesocks\.json: rules: it is not a list of rules$/,
      ],
      [
        { rules: ["allow", { action: "deny", port: [70000] }] },
        /^edgesocks\.json: rules\[1\]\.port/,
      ],
      [
        { user: ["alice"] },
        /^edgesocks\.json: user\[0\]: expected NAME:PASSWORD/,
      ],
    ];
    for (const [value, pattern] of cases) {
      usageError(() => settingsOf([], { file, value }), pattern);
    }
  });
});

describe("HELP", () => {
  it("documents every setting and the rule grammar", () => {
    for (const setting of SETTINGS) {
      assert.ok(
        HELP.includes(`--${setting.name} `) ||
          HELP.includes(`--${setting.name},`),
        `--help lacks --${setting.name}`,
      );
    }
    for (const flag of ["--help", "--version", "hash-password"]) {
      assert.ok(HELP.includes(flag), `--help lacks ${flag}`);
    }
    assert.match(HELP, /dest=/);
  });
});
