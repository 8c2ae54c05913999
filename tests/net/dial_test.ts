import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  ATTEMPT_DELAY_MS,
  dial,
  interleaveFamilies,
} from "../../src/net/dial.ts";
import { ReplyError } from "../../src/net/dial_error.ts";
import { errnoError, FakeNetwork } from "../_helpers/fake_network.ts";
import { sleep, within } from "../_helpers/memory_connection.ts";

// Slack for timers on a loaded machine.
const EARLY = 10;
const LATE = 150;

function hosts(network: FakeNetwork): string[] {
  return network.attempts.map((attempt) => attempt.host);
}

describe("interleaveFamilies", () => {
  it("interleaveFamilies() alternates families, the resolver's first first", () => {
    const cases: Array<[string[], string[]]> = [
      [["::1", "::2", "10.0.0.1"], ["::1", "10.0.0.1", "::2"]],
      [
        ["10.0.0.1", "10.0.0.2", "10.0.0.3", "::1"],
        ["10.0.0.1", "::1", "10.0.0.2", "10.0.0.3"],
      ],
      [
        ["10.0.0.1", "::1", "::2", "10.0.0.2", "::3"],
        ["10.0.0.1", "::1", "10.0.0.2", "::2", "::3"],
      ],
      [["10.0.0.2", "10.0.0.1"], ["10.0.0.2", "10.0.0.1"]],
      [["::2", "::1"], ["::2", "::1"]],
      [["::ffff:10.0.0.1", "10.0.0.2"], ["::ffff:10.0.0.1", "10.0.0.2"]],
      [[], []],
    ];
    for (const [input, expected] of cases) {
      assert.deepEqual(interleaveFamilies(input), expected, String(input));
    }
  });
});

describe("dial", () => {
  it("ATTEMPT_DELAY_MS is RFC 8305's recommended 250 ms", () => {
    assert.equal(ATTEMPT_DELAY_MS, 250);
  });

  it("dial() connects to an IPv4 literal without a lookup", async () => {
    const network = new FakeNetwork().onConnect("192.0.2.1", {
      type: "connect",
    });
    const conn = await within(
      dial(network, { host: "192.0.2.1", port: 443, timeout: 1000 }),
      1000,
    );
    assert.deepEqual(network.lookups, []);
    assert.equal(network.attempts.length, 1);
    assert.equal(network.attempts[0]!.host, "192.0.2.1");
    assert.equal(network.attempts[0]!.port, 443);
    assert.equal(conn, network.attempts[0]!.conn);
    assert.deepEqual(conn.remoteAddress, { host: "192.0.2.1", port: 443 });
    // Nothing was left pending, so nothing was aborted.
    assert.equal(network.attempts[0]!.signal?.aborted, false);
    assert.equal(network.attempts[0]!.conn?.closed, false);
  });

  it("dial() connects to an IPv6 literal without a lookup", async () => {
    const network = new FakeNetwork().onConnect("2001:db8::1", {
      type: "connect",
    });
    await within(
      dial(network, { host: "2001:db8::1", port: 80, timeout: 1000 }),
      1000,
    );
    assert.deepEqual(network.lookups, []);
    assert.deepEqual(hosts(network), ["2001:db8::1"]);
  });

  it("dial() resolves a name and tries its addresses interleaved", async () => {
    const network = new FakeNetwork()
      .onLookup("example.test", { addresses: ["::1", "::2", "10.0.0.1"] })
      .onConnect("::1", { type: "fail", error: errnoError("ECONNREFUSED") })
      .onConnect("10.0.0.1", {
        type: "fail",
        error: errnoError("ENETUNREACH"),
      })
      .onConnect("::2", { type: "connect" });
    const conn = await within(
      dial(network, { host: "example.test", port: 8080, timeout: 1000 }),
      1000,
    );
    assert.deepEqual(network.lookups.map((l) => l.name), ["example.test"]);
    assert.deepEqual(hosts(network), ["::1", "10.0.0.1", "::2"]);
    assert.ok(network.attempts.every((attempt) => attempt.port === 8080));
    assert.equal(conn, network.attempts[2]!.conn);
  });

  it("dial() rejects with ReplyError 0x04 for a name without addresses", async () => {
    const network = new FakeNetwork().onLookup("empty.test", {
      addresses: [],
    });
    await assert.rejects(
      within(
        dial(network, { host: "empty.test", port: 80, timeout: 1000 }),
        1000,
      ),
      (error: unknown) => {
        assert.ok(error instanceof ReplyError);
        assert.equal(error.reply, 0x04);
        assert.equal(
          error.message,
          "Cannot resolve empty.test: it has no addresses",
        );
        return true;
      },
    );
    assert.deepEqual(network.attempts, []);
  });

  it("dial() rejects with the resolver's error when the lookup fails", async () => {
    const error = errnoError("ENOTFOUND", "getaddrinfo ENOTFOUND nx.test");
    const network = new FakeNetwork().onLookup("nx.test", { error });
    await assert.rejects(
      within(dial(network, { host: "nx.test", port: 80, timeout: 1000 }), 1000),
      (e) => e === error,
    );
    assert.deepEqual(network.attempts, []);
  });

  it("dial() starts the next address after ATTEMPT_DELAY_MS when one hangs", async () => {
    const network = new FakeNetwork()
      .onLookup("slow.test", { addresses: ["2001:db8::1", "192.0.2.1"] })
      .onConnect("2001:db8::1", { type: "hang" })
      .onConnect("192.0.2.1", { type: "connect", after: 5 });
    const conn = await within(
      dial(network, { host: "slow.test", port: 80, timeout: 2000 }),
      2000,
    );
    const [first, second] = network.attempts;
    assert.deepEqual(hosts(network), ["2001:db8::1", "192.0.2.1"]);
    const gap = second!.at - first!.at;
    assert.ok(
      gap >= ATTEMPT_DELAY_MS - EARLY && gap < ATTEMPT_DELAY_MS + LATE,
      `second attempt ${gap} ms after the first`,
    );
    assert.equal(conn, second!.conn);
    // The loser is stopped.
    assert.equal(first!.signal?.aborted, true);
    assert.equal(first!.outcome, "aborted");
  });

  it("dial() starts the next address at once when one fails", async () => {
    const network = new FakeNetwork()
      .onLookup("half.test", { addresses: ["2001:db8::1", "192.0.2.1"] })
      .onConnect("2001:db8::1", {
        type: "fail",
        after: 10,
        error: errnoError("ENETUNREACH"),
      })
      .onConnect("192.0.2.1", { type: "connect" });
    const conn = await within(
      dial(network, { host: "half.test", port: 80, timeout: 2000 }),
      2000,
    );
    const [first, second] = network.attempts;
    const gap = second!.at - first!.at;
    assert.ok(gap >= 10 - EARLY && gap < 100, `second attempt after ${gap} ms`);
    assert.equal(conn, second!.conn);
  });

  it("dial() moves on when an attempt fails after the next has started", async () => {
    const network = new FakeNetwork()
      .onLookup("three.test", {
        addresses: ["192.0.2.1", "2001:db8::1", "192.0.2.2"],
      })
      .onConnect("192.0.2.1", { type: "hang" })
      .onConnect("2001:db8::1", {
        type: "fail",
        after: 20,
        error: errnoError("ECONNREFUSED"),
      })
      .onConnect("192.0.2.2", { type: "connect" });
    const conn = await within(
      dial(network, { host: "three.test", port: 80, timeout: 2000 }),
      2000,
    );
    const [, second, third] = network.attempts;
    assert.deepEqual(hosts(network), ["192.0.2.1", "2001:db8::1", "192.0.2.2"]);
    const gap = third!.at - second!.at;
    assert.ok(gap >= 20 - EARLY && gap < 20 + LATE, `third after ${gap} ms`);
    assert.equal(conn, third!.conn);
  });

  it("dial() rejects with the last error when every attempt fails", async () => {
    const last = errnoError("ECONNREFUSED", "refused by 192.0.2.2");
    const network = new FakeNetwork()
      .onLookup("down.test", {
        addresses: ["192.0.2.1", "2001:db8::1", "192.0.2.2"],
      })
      .onConnect("192.0.2.1", {
        type: "fail",
        error: errnoError("ETIMEDOUT"),
      })
      .onConnect("2001:db8::1", {
        type: "fail",
        after: 5,
        error: errnoError("ENETUNREACH"),
      })
      .onConnect("192.0.2.2", { type: "fail", after: 5, error: last });
    const started = Date.now();
    await assert.rejects(
      within(
        dial(network, { host: "down.test", port: 80, timeout: 2000 }),
        2000,
      ),
      (error) => error === last,
    );
    assert.deepEqual(hosts(network), ["192.0.2.1", "2001:db8::1", "192.0.2.2"]);
    assert.ok(Date.now() - started < ATTEMPT_DELAY_MS);
  });

  it("dial() rejects with the last attempt's error, not the last started", async () => {
    const late = errnoError("EHOSTUNREACH", "late");
    const network = new FakeNetwork()
      .onLookup("order.test", { addresses: ["192.0.2.1", "192.0.2.2"] })
      .onConnect("192.0.2.1", { type: "fail", after: 300, error: late })
      .onConnect("192.0.2.2", {
        type: "fail",
        after: 5,
        error: errnoError("ECONNREFUSED"),
      });
    await assert.rejects(
      within(
        dial(network, { host: "order.test", port: 80, timeout: 2000 }),
        2000,
      ),
      (error) => error === late,
    );
  });

  it("dial() times out with ReplyError 0x06 and aborts what is pending", async () => {
    const network = new FakeNetwork()
      .onLookup("hang.test", { addresses: ["192.0.2.1", "192.0.2.2"] })
      .onConnect("192.0.2.1", { type: "hang" })
      .onConnect("192.0.2.2", { type: "hang" });
    const started = Date.now();
    await assert.rejects(
      within(dial(network, { host: "hang.test", port: 80, timeout: 40 }), 1000),
      (error: unknown) => {
        assert.ok(error instanceof ReplyError);
        assert.equal(error.reply, 0x06);
        assert.equal(
          error.message,
          "Cannot connect to hang.test:80: timed out after 40 ms",
        );
        return true;
      },
    );
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 40 - EARLY && elapsed < 40 + LATE, `${elapsed} ms`);
    assert.equal(network.attempts.length, 1);
    assert.equal(network.attempts[0]!.signal?.aborted, true);
    assert.equal(network.attempts[0]!.outcome, "aborted");
    // The second attempt's timer died with the dial.
    await sleep(ATTEMPT_DELAY_MS + 20);
    assert.equal(network.attempts.length, 1);
  });

  it("dial() times out a lookup that does not answer", async () => {
    const network = new FakeNetwork().onLookup("dns.test", {
      addresses: ["192.0.2.1"],
      after: 80,
    }).onConnect("192.0.2.1", { type: "connect" });
    await assert.rejects(
      within(dial(network, { host: "dns.test", port: 80, timeout: 30 }), 1000),
      (error: unknown) => error instanceof ReplyError && error.reply === 0x06,
    );
    await sleep(100);
    assert.ok(
      network.attempts.every((attempt) => attempt.outcome === "aborted"),
      "no attempt outlives the dial",
    );
  });

  it("dial() closes a connection that wins after another has", async () => {
    const network = new FakeNetwork()
      .onLookup("late.test", { addresses: ["192.0.2.1", "192.0.2.2"] })
      .onConnect("192.0.2.1", {
        type: "connect",
        after: ATTEMPT_DELAY_MS + 60,
        ignoreAbort: true,
      })
      .onConnect("192.0.2.2", { type: "connect", after: 5 });
    const conn = await within(
      dial(network, { host: "late.test", port: 80, timeout: 2000 }),
      2000,
    );
    const [first, second] = network.attempts;
    assert.equal(conn, second!.conn);
    assert.equal(first!.outcome, "pending");
    await within(
      (async () => {
        while (first!.outcome === "pending") await sleep(5);
      })(),
      1000,
      "the late attempt",
    );
    await sleep(0);
    assert.equal(first!.outcome, "connected");
    assert.equal(first!.conn?.closed, true);
    assert.equal(await within(first!.peer!.read(), 100), null);
    assert.equal(second!.conn?.closed, false);
  });

  it("dial() stops when its controller is aborted", async () => {
    const network = new FakeNetwork().onConnect("192.0.2.1", { type: "hang" });
    const controller = new AbortController();
    const dialled = dial(network, {
      host: "192.0.2.1",
      port: 80,
      timeout: 2000,
      controller,
    });
    await sleep(20);
    assert.equal(network.attempts[0]!.signal?.aborted, false);
    const aborted = Date.now();
    controller.abort();
    await assert.rejects(
      within(dialled, 1000),
      (error: unknown) => (error as Error).name === "AbortError",
    );
    assert.ok(Date.now() - aborted < 50);
    assert.equal(network.attempts[0]!.signal?.aborted, true);
    assert.equal(network.attempts[0]!.outcome, "aborted");
  });

  it("dial() gives up at once on a controller aborted before the call", async () => {
    const controller = new AbortController();
    controller.abort();
    const network = new FakeNetwork().onConnect("192.0.2.1", {
      type: "connect",
      after: 30,
    });
    await assert.rejects(
      within(
        dial(network, {
          host: "192.0.2.1",
          port: 80,
          timeout: 1000,
          controller,
        }),
        1000,
      ),
      (error: unknown) => (error as Error).name === "AbortError",
    );
    await sleep(50);
    assert.ok(
      network.attempts.every((attempt) => attempt.outcome !== "connected"),
      "no connection was made",
    );
  });
});
