import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  HELP,
  parseCommandLine,
  parseDuration,
  parsePortRange,
  parseUsers,
  UsageError,
} from "../../src/cli/parse_args.ts";

function serveOptions(args: string[]) {
  const command = parseCommandLine(args);
  assert.equal(command.kind, "serve");
  return command as Extract<typeof command, { kind: "serve" }>;
}

function usageError(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof UsageError, `not a UsageError: ${error}`);
    assert.match(error.message, pattern);
    return true;
  });
}

describe("parseCommandLine()", () => {
  it("gives defaults for no arguments", () => {
    const command = serveOptions([]);
    assert.deepEqual(command.options, {});
    assert.deepEqual(command.usersFiles, []);
    assert.equal(command.logLevel, "info");
    assert.equal(command.logFormat, undefined);
  });

  it("reads every flag", () => {
    const command = serveOptions([
      "--listen",
      "127.0.0.1:0",
      "--listen",
      "[::1]:1080",
      "--user",
      "alice:s3cret",
      "--user",
      "bob:",
      "--users",
      "a.txt",
      "--no-auth",
      "--handshake-timeout",
      "500ms",
      "--connect-timeout",
      "2s",
      "--idle-timeout",
      "5m",
      "--log-level",
      "debug",
      "--log-format",
      "text",
      "--bind-timeout",
      "30s",
      "--bind-ports",
      "40000-40010",
      "--bind-without-session",
      "--external-address",
      "203.0.113.7",
    ]);
    assert.deepEqual(command.options, {
      listen: ["127.0.0.1:0", "[::1]:1080"],
      users: new Map([["alice", "s3cret"], ["bob", ""]]),
      noAuth: true,
      handshakeTimeout: 500,
      connectTimeout: 2000,
      idleTimeout: 300_000,
      bindTimeout: 30_000,
      bindPorts: [40000, 40010],
      bindWithoutSession: true,
      externalAddress: "203.0.113.7",
    });
    assert.deepEqual(command.usersFiles, ["a.txt"]);
    assert.equal(command.logLevel, "debug");
    assert.equal(command.logFormat, "text");
  });

  it("answers --help and --version before anything else", () => {
    assert.deepEqual(parseCommandLine(["--help"]), {
      kind: "help",
    });
    assert.deepEqual(parseCommandLine(["-v"]), { kind: "version" });
    assert.deepEqual(parseCommandLine(["--listen", "x", "-h"]), {
      kind: "help",
    });
  });

  it("names the flag of every mistake", () => {
    usageError(() => parseCommandLine(["--bogus"]), /--bogus/);
    usageError(() => parseCommandLine(["--listen"]), /--listen/);
    usageError(
      () => parseCommandLine(["--log-level", "loud"]),
      /^--log-level: "loud"/,
    );
    usageError(
      () => parseCommandLine(["--log-format", "xml"]),
      /^--log-format: "xml"/,
    );
    usageError(
      () => parseCommandLine(["--idle-timeout", "5x"]),
      /^--idle-timeout: "5x"/,
    );
    usageError(
      () => parseCommandLine(["--user", "nocolon"]),
      /^--user: expected NAME:PASSWORD/,
    );
    usageError(() => parseCommandLine(["extra"]), /extra/);
  });
});

describe("parseDuration()", () => {
  it("converts every unit to milliseconds", () => {
    assert.equal(parseDuration("--x", "250ms"), 250);
    assert.equal(parseDuration("--x", "10s"), 10_000);
    assert.equal(parseDuration("--x", "1.5s"), 1500);
    assert.equal(parseDuration("--x", "2m"), 120_000);
    assert.equal(parseDuration("--x", "1h"), 3_600_000);
    assert.equal(parseDuration("--x", "30"), 30_000);
    assert.equal(parseDuration("--x", "0"), 0);
  });

  it("rejects negative, unitless garbage and too large values", () => {
    for (const text of ["-1s", "", "s", "1d", "1e3", "10 s", "999h"]) {
      usageError(
        () => parseDuration("--connect-timeout", text),
        /^--connect-timeout: /,
      );
    }
  });
});

describe("parsePortRange()", () => {
  it("reads LOW-HIGH and rejects reversed, zero and out-of-range ports", () => {
    assert.deepEqual(parsePortRange("--bind-ports", "1-65535"), [1, 65535]);
    assert.deepEqual(parsePortRange("--bind-ports", "8000-8000"), [8000, 8000]);
    for (const text of ["0-10", "10-5", "1-65536", "80", "a-b", "-1-5"]) {
      usageError(() => parsePortRange("--bind-ports", text), /^--bind-ports: /);
    }
  });
});

describe("parseUsers()", () => {
  it("splits at the first colon and keeps empty passwords", () => {
    assert.deepEqual(
      parseUsers(["alice:a:b:c", "bob:"]),
      new Map([["alice", "a:b:c"], ["bob", ""]]),
    );
  });

  it("rejects an empty name and duplicates, naming the source", () => {
    usageError(() => parseUsers([":pw"]), /^--user: expected NAME:PASSWORD/);
    usageError(
      () => parseUsers(["a:1", "a:2"], (i) => `users.txt: line ${i + 1}`),
      /^users.txt: line 2: user "a" is given twice$/,
    );
  });
});

describe("HELP", () => {
  it("documents every flag", () => {
    for (
      const flag of [
        "--listen",
        "--user ",
        "--users",
        "--no-auth",
        "--handshake-timeout",
        "--connect-timeout",
        "--idle-timeout",
        "--log-level",
        "--log-format",
        "--bind-timeout",
        "--bind-ports",
        "--bind-without-session",
        "--external-address",
        "--help",
        "--version",
      ]
    ) {
      assert.ok(HELP.includes(flag), `--help lacks ${flag}`);
    }
  });
});
