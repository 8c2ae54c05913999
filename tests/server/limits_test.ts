import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  LIMIT_KINDS,
  Limits,
  releaseNothing,
} from "../../src/server/limits.ts";

describe("Limits", () => {
  it("acquire() refuses the place after the last and gives it back once", () => {
    const limits = new Limits({ maxConnectionsPerClient: 2 });
    const first = limits.acquire("maxConnectionsPerClient", "10.0.0.1");
    const second = limits.acquire("maxConnectionsPerClient", "10.0.0.1");
    assert.notEqual(first, null);
    assert.notEqual(second, null);
    assert.equal(limits.acquire("maxConnectionsPerClient", "10.0.0.1"), null);
    assert.equal(limits.held("maxConnectionsPerClient", "10.0.0.1"), 2);
    first!();
    first!(); // a second release gives back nothing more
    assert.equal(limits.held("maxConnectionsPerClient", "10.0.0.1"), 1);
    assert.notEqual(
      limits.acquire("maxConnectionsPerClient", "10.0.0.1"),
      null,
    );
    assert.equal(limits.acquire("maxConnectionsPerClient", "10.0.0.1"), null);
  });

  it("counts each key and each kind apart", () => {
    const limits = new Limits({
      maxConnectionsPerClient: 1,
      maxBindsPerUser: 1,
    });
    assert.notEqual(limits.acquire("maxConnectionsPerClient", "a"), null);
    assert.notEqual(limits.acquire("maxConnectionsPerClient", "b"), null);
    assert.notEqual(limits.acquire("maxBindsPerUser", "a"), null);
    assert.equal(limits.acquire("maxConnectionsPerClient", "a"), null);
    assert.equal(limits.acquire("maxBindsPerUser", "a"), null);
  });

  it("treats zero and absent limits as none, counting nothing", () => {
    const limits = new Limits({ maxConnections: 0 });
    for (const kind of LIMIT_KINDS) {
      for (let i = 0; i < 1000; i++) {
        assert.equal(
          limits.acquire(kind, "k"),
          releaseNothing,
          `${kind} #${i}`,
        );
      }
      assert.equal(limits.held(kind, "k"), 0);
    }
  });
});
