import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  descriptorBudget,
  DESCRIPTORS_PER_CLIENT,
  RESERVED_DESCRIPTORS,
} from "../../src/server/descriptors.ts";

describe("descriptorBudget()", () => {
  it("keeps the reserve and the listeners back and gives 3 a client", () => {
    assert.equal(DESCRIPTORS_PER_CLIENT, 3);
    assert.equal(RESERVED_DESCRIPTORS, 64);
    assert.deepEqual(descriptorBudget(256, 1), {
      reserved: 65,
      maxConnections: 63,
    });
    assert.deepEqual(descriptorBudget(1024, 2), {
      reserved: 66,
      maxConnections: 319,
    });
    assert.deepEqual(descriptorBudget(1_048_576, 1), {
      reserved: 65,
      maxConnections: 349_503,
    });
  });

  it("allows one client at least, and no cap when unlimited", () => {
    assert.equal(descriptorBudget(32, 1).maxConnections, 1);
    assert.deepEqual(descriptorBudget(Infinity, 1), {
      reserved: 65,
      maxConnections: 0,
    });
  });
});
