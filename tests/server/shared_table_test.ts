import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Worker } from "node:worker_threads";
import {
  allocateSharedState,
  clearWorker,
  openSharedState,
  SHARED_CAPACITY,
  SharedTable,
} from "../../src/server/shared_table.ts";

const options = {
  limits: { maxConnections: 3, maxConnectionsPerClient: 2 },
  pending: { max: 2, perClient: 1, ipv6Prefix: 64 },
  throttle: { failures: 3, window: 60_000, block: 60_000 },
};

function twoWorkers() {
  const buffers = allocateSharedState({ workers: 2, loginFailures: 3 });
  return {
    buffers,
    a: openSharedState(buffers, 0, options),
    b: openSharedState(buffers, 1, options),
  };
}

describe("SharedTable", () => {
  it("agrees with a Map through random inserts and removals in a tiny table", () => {
    const shape = { capacity: 8, workers: 1, words: 0, floats: 0 };
    const table = new SharedTable(SharedTable.allocate(shape), shape, 0);
    const model = new Map<string, number>();
    let seed = 7;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    for (let step = 0; step < 5_000; step++) {
      const key = `k${random(12)}`;
      table.locked(() => {
        if (random(2) === 0) {
          const slot = table.insert(table.keyOf(key));
          if (slot === -1) {
            assert.equal(model.size, 8, "refused only when full");
            assert.ok(!model.has(key));
            return;
          }
          table.add(slot, 1);
          model.set(key, (model.get(key) ?? 0) + 1);
        } else {
          const slot = table.find(table.keyOf(key));
          assert.equal(slot === -1, !model.has(key), `find ${key}`);
          if (slot !== -1) {
            table.remove(slot);
            model.delete(key);
          }
        }
      });
      assert.equal(table.size, model.size);
    }
    table.locked(() => {
      for (const [key, count] of model) {
        assert.equal(table.total(table.find(table.keyOf(key))), count);
      }
    });
  });

  it("refuses a key longer than 320 bytes", () => {
    const shape = { capacity: 4, workers: 1, words: 0, floats: 0 };
    const table = new SharedTable(SharedTable.allocate(shape), shape, 0);
    assert.equal(table.keyOf("x".repeat(321)), null);
    assert.equal(
      table.locked(() => table.insert(table.keyOf("x".repeat(321)))),
      -1,
    );
    assert.notEqual(table.keyOf("x".repeat(320)), null);
  });
});

describe("openSharedState()", () => {
  it("shows one worker's CONNECT sessions to the other, exactly by key", () => {
    const { a, b } = twoWorkers();
    const first = a.sessions.open("127.0.0.1", "alice", "10.0.0.5");
    const second = b.sessions.open("127.0.0.1", "alice", "10.0.0.6");
    assert.equal(a.sessions.count("127.0.0.1", "alice"), 2);
    assert.equal(b.sessions.outboundHost("127.0.0.1", "alice"), "10.0.0.6");
    assert.equal(b.sessions.count("127.0.0.1", null), 0);
    assert.equal(b.sessions.count("127.0.0.1", "alic"), 0);
    first();
    first();
    assert.equal(b.sessions.count("127.0.0.1", "alice"), 1);
    second();
    assert.equal(a.sessions.count("127.0.0.1", "alice"), 0);
    assert.equal(a.sessions.outboundHost("127.0.0.1", "alice"), null);
    assert.equal(a.sessions.total, 0);
  });

  it("admits exactly the limit summed over workers", () => {
    const { a, b } = twoWorkers();
    const held = [
      a.limits.acquire("maxConnectionsPerClient", "10.0.0.1"),
      b.limits.acquire("maxConnectionsPerClient", "10.0.0.1"),
    ];
    assert.ok(held.every((release) => typeof release === "function"));
    assert.equal(a.limits.acquire("maxConnectionsPerClient", "10.0.0.1"), null);
    assert.equal(b.limits.acquire("maxConnectionsPerClient", "10.0.0.1"), null);
    assert.equal(a.limits.held("maxConnectionsPerClient", "10.0.0.1"), 2);
    held[0]!();
    assert.notEqual(
      b.limits.acquire("maxConnectionsPerClient", "10.0.0.1"),
      null,
    );
    assert.equal(a.limits.held("maxUdpPerUser", "alice"), 0);
  });

  it("caps handshake slots over workers, per client and in all", () => {
    const { a, b } = twoWorkers();
    const one = a.pending.admit("10.0.0.1", () => {});
    assert.deepEqual(b.pending.admit("10.0.0.1", () => {}), {
      refused: "maxPendingHandshakesPerClient",
    });
    const two = b.pending.admit("10.0.0.2", () => {});
    // Full, and b's own oldest slot is younger than the grace second.
    assert.deepEqual(b.pending.admit("10.0.0.3", () => {}), {
      refused: "maxPendingHandshakes",
    });
    assert.equal(a.pending.size, 2);
    if ("release" in one) one.release();
    if ("release" in two) two.release();
    assert.equal(b.pending.size, 0);
  });

  it("blocks an address on every worker after failures on any", () => {
    const { a, b } = twoWorkers();
    assert.equal(a.throttle.failed("10.0.0.9"), false);
    assert.equal(b.throttle.failed("10.0.0.9"), false);
    assert.equal(a.throttle.isBlocked("10.0.0.9"), false);
    assert.equal(b.throttle.failed("10.0.0.9"), true);
    assert.equal(a.throttle.isBlocked("10.0.0.9"), true);
    assert.equal(b.throttle.isBlocked("10.0.0.9"), true);
    assert.equal(a.throttle.isBlocked("10.0.0.8"), false);
  });

  it("forgets what a dead worker held, and only that", () => {
    const { buffers, a, b } = twoWorkers();
    a.sessions.open("127.0.0.1", null, "10.0.0.5");
    b.sessions.open("127.0.0.1", null, "10.0.0.5");
    b.sessions.open("127.0.0.2", null, "10.0.0.5");
    a.limits.acquire("maxConnections");
    b.limits.acquire("maxConnections");
    clearWorker(buffers, 1);
    assert.equal(a.sessions.count("127.0.0.1", null), 1);
    assert.equal(a.sessions.count("127.0.0.2", null), 0);
    assert.equal(a.limits.held("maxConnections"), 1);
  });

  it(`holds ${SHARED_CAPACITY} keys, then fails closed`, () => {
    const { a } = twoWorkers();
    for (let i = 0; i < SHARED_CAPACITY; i++) {
      a.sessions.open(`10.${i >> 8}.${i & 255}.1`, null, "10.0.0.5");
    }
    const release = a.sessions.open("192.0.2.1", null, "10.0.0.5");
    assert.equal(a.sessions.count("192.0.2.1", null), 0, "no session, no BIND");
    release();
    assert.equal(
      a.limits.acquire("maxConnectionsPerClient", "192.0.2.1") !== null,
      true,
    );
  });

  it("never admits more than the limit from two threads at once", {
    timeout: 30_000,
  }, async () => {
    const buffers = allocateSharedState({ workers: 2, loginFailures: 0 });
    const extension = import.meta.url.endsWith(".ts") ? ".ts" : ".js";
    const url = new URL(`./_shared_table_worker${extension}`, import.meta.url);
    const results = await Promise.all(
      [0, 1].map((column) =>
        new Promise<{ mostHeld: number; refused: number }>(
          (resolve, reject) => {
            const worker = new Worker(url, {
              workerData: { buffers, column, rounds: 20_000, max: 1 },
            });
            worker.once("message", (result) => {
              resolve(result);
              void worker.terminate();
            });
            worker.once("error", reject);
          },
        )
      ),
    );
    // A thread may find the place taken on every try (the other holds it
    // most of the time), but none ever sees two holders.
    for (const { mostHeld } of results) assert.ok(mostHeld <= 1, `${mostHeld}`);
    const served = results.map((r) => 20_000 - r.refused);
    assert.ok(served[0]! + served[1]! > 0, "some rounds were served");
    const state = openSharedState(buffers, 0, options);
    assert.equal(state.limits.held("maxConnectionsPerClient", "10.0.0.1"), 0);
    assert.equal(state.sessions.total, 0);
  });
});
