import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  clientKey,
  PENDING_GRACE,
  PendingHandshakes,
} from "../../src/server/pending.ts";

// Admits `count` clients from `ip`, recording evictions in `evicted`.
function fill(
  pending: PendingHandshakes,
  ip: string,
  count: number,
  evicted: string[],
): ((succeeded?: boolean) => void)[] {
  const releases: ((succeeded?: boolean) => void)[] = [];
  for (let i = 0; i < count; i++) {
    const slot = pending.admit(ip, () => evicted.push(`${ip}#${i}`));
    assert.ok("release" in slot, `${ip}#${i} gets a slot`);
    releases.push(slot.release);
  }
  return releases;
}

describe("PendingHandshakes", () => {
  it("admit() refuses one more than the per-client cap, and only for that client", () => {
    const pending = new PendingHandshakes({
      max: 100,
      perClient: 3,
      ipv6Prefix: 64,
    });
    const releases = fill(pending, "127.0.0.2", 3, []);
    assert.deepEqual(pending.admit("127.0.0.2", () => {}), {
      refused: "maxPendingHandshakesPerClient",
    });
    assert.ok("release" in pending.admit("127.0.0.1", () => {}));
    releases[0]!();
    releases[0]!(); // a second release gives back nothing more
    assert.equal(pending.held("127.0.0.2"), 2);
    assert.equal(pending.size, 3);
    assert.ok("release" in pending.admit("127.0.0.2", () => {}));
    assert.equal(pending.held("127.0.0.2"), 3);
  });

  it("admit() refuses a newcomer from an unknown address while every slot is a second old or less", () => {
    let clock = 0;
    const pending = new PendingHandshakes({
      max: 6,
      perClient: 6,
      ipv6Prefix: 64,
      now: () => clock,
    });
    const evicted: string[] = [];
    fill(pending, "10.0.0.2", 2, evicted);
    clock = 500;
    fill(pending, "10.0.0.1", 4, evicted);
    clock = PENDING_GRACE;
    assert.deepEqual(pending.admit("10.0.0.3", () => {}), {
      refused: "maxPendingHandshakes",
    });
    assert.deepEqual(evicted, []);
    // Past the grace the oldest goes, though 10.0.0.1 holds more.
    clock = PENDING_GRACE + 1;
    assert.ok("release" in pending.admit("10.0.0.3", () => {}));
    assert.deepEqual(evicted, ["10.0.0.2#0"]);
    assert.ok("release" in pending.admit("10.0.0.4", () => {}));
    assert.deepEqual(evicted, ["10.0.0.2#0", "10.0.0.2#1"]);
    // The rest are younger: not yet.
    assert.deepEqual(pending.admit("10.0.0.5", () => {}), {
      refused: "maxPendingHandshakes",
    });
    assert.equal(pending.size, 6);
  });

  it("admit() lets an address that finished a handshake take the oldest slot at once", () => {
    const clock = 0;
    const pending = new PendingHandshakes({
      max: 3,
      perClient: 3,
      ipv6Prefix: 64,
      now: () => clock,
    });
    const evicted: string[] = [];
    const [done] = fill(pending, "10.0.0.1", 1, evicted);
    done!(true);
    const [failed] = fill(pending, "10.0.0.9", 1, evicted);
    failed!(false);
    fill(pending, "10.0.0.2", 3, evicted);
    assert.ok("release" in pending.admit("10.0.0.1", () => {}));
    assert.deepEqual(evicted, ["10.0.0.2#0"]);
    assert.deepEqual(pending.admit("10.0.0.9", () => {}), {
      refused: "maxPendingHandshakes",
    });
    assert.equal(pending.held("10.0.0.2"), 2);
  });

  it("admit() releasing an evicted slot changes nothing", () => {
    let clock = 0;
    const pending = new PendingHandshakes({
      max: 2,
      perClient: 2,
      ipv6Prefix: 64,
      now: () => clock,
    });
    const evicted: string[] = [];
    const [oldest] = fill(pending, "10.0.0.1", 2, evicted);
    clock = 5_000;
    assert.ok("release" in pending.admit("10.0.0.9", () => {}));
    assert.deepEqual(evicted, ["10.0.0.1#0"]);
    oldest!();
    assert.equal(pending.size, 2);
    assert.equal(pending.held("10.0.0.1"), 1);
  });

  it("counts IPv6 clients per prefix", () => {
    const pending = new PendingHandshakes({
      max: 0,
      perClient: 2,
      ipv6Prefix: 64,
    });
    fill(pending, "2001:db8:0:1::1", 1, []);
    fill(pending, "2001:db8:0:1:ffff::2", 1, []);
    assert.deepEqual(pending.admit("2001:db8:0:1::3", () => {}), {
      refused: "maxPendingHandshakesPerClient",
    });
    assert.ok("release" in pending.admit("2001:db8:0:2::1", () => {}));
  });

  it("with caps of zero, counts but never refuses", () => {
    const pending = new PendingHandshakes({
      max: 0,
      perClient: 0,
      ipv6Prefix: 64,
    });
    fill(pending, "10.0.0.1", 50, []);
    assert.equal(pending.size, 50);
  });
});

describe("clientKey()", () => {
  it("keeps IPv4 addresses and cuts IPv6 ones to the prefix", () => {
    assert.equal(clientKey("192.0.2.7", 64), "192.0.2.7");
    assert.equal(clientKey("2001:db8:1:2:aaaa::1", 64), "2001:db8:1:2::/64");
    assert.equal(clientKey("2001:db8:1:2:aaaa::1", 48), "2001:db8:1::/48");
    assert.equal(clientKey("2001:db8:1:2:aaaa::1", 56), "2001:db8:1:0::/56");
    assert.equal(
      clientKey("2001:db8:1:2ff:aaaa::1", 56),
      "2001:db8:1:200::/56",
    );
    assert.equal(clientKey("2001:db8::1", 128), "2001:db8::1");
    assert.equal(clientKey("::ffff:192.0.2.7", 64), "192.0.2.7");
  });
});
