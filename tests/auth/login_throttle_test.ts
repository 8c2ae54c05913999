import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { LoginThrottle } from "../../src/auth/login_throttle.ts";

function clock() {
  const time = { now: 1_000_000 };
  return { time, now: () => time.now };
}

describe("LoginThrottle", () => {
  it("blocks an address after the last failure in the window, for the block time", () => {
    const { time, now } = clock();
    const throttle = new LoginThrottle({
      failures: 3,
      window: 60_000,
      block: 300_000,
      now,
    });
    assert.equal(throttle.failed("10.0.0.1"), false);
    assert.equal(throttle.failed("10.0.0.1"), false);
    assert.equal(throttle.isBlocked("10.0.0.1"), false);
    assert.equal(throttle.failed("10.0.0.1"), true);
    assert.equal(throttle.isBlocked("10.0.0.1"), true);
    assert.equal(throttle.isBlocked("10.0.0.2"), false);
    time.now += 299_999;
    assert.equal(throttle.isBlocked("10.0.0.1"), true);
    time.now += 1;
    assert.equal(throttle.isBlocked("10.0.0.1"), false);
  });

  it("forgets failures older than the window", () => {
    const { time, now } = clock();
    const throttle = new LoginThrottle({
      failures: 2,
      window: 1000,
      block: 5000,
      now,
    });
    throttle.failed("10.0.0.1");
    time.now += 1000;
    assert.equal(throttle.failed("10.0.0.1"), false);
    assert.equal(throttle.isBlocked("10.0.0.1"), false);
    time.now += 999;
    assert.equal(throttle.failed("10.0.0.1"), true);
  });

  it("clears failures after a good login, but not a running block", () => {
    const { now } = clock();
    const throttle = new LoginThrottle({
      failures: 2,
      window: 60_000,
      block: 60_000,
      now,
    });
    throttle.failed("a");
    throttle.succeeded("a");
    assert.equal(throttle.failed("a"), false);
    assert.equal(throttle.failed("a"), true);
    throttle.succeeded("a");
    assert.equal(throttle.isBlocked("a"), true);
  });

  it("never blocks when failures is 0", () => {
    const { now } = clock();
    const throttle = new LoginThrottle({
      failures: 0,
      window: 60_000,
      block: 60_000,
      now,
    });
    for (let i = 0; i < 100; i++) assert.equal(throttle.failed("a"), false);
    assert.equal(throttle.isBlocked("a"), false);
  });

  it("remembers a bounded number of addresses, dropping the oldest", () => {
    const { now } = clock();
    const throttle = new LoginThrottle({
      failures: 2,
      window: 60_000,
      block: 60_000,
      now,
    });
    throttle.failed("first");
    for (let i = 0; i < 10_000; i++) {
      throttle.failed(`10.${i >> 8}.${i & 255}.1`);
    }
    // "first" was evicted, so its earlier failure no longer counts.
    assert.equal(throttle.failed("first"), false);
    assert.equal(throttle.failed("10.0.0.1"), false);
  });
});
