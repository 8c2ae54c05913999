import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseDescriptorLimit } from "../../../src/net/adapters/_descriptor_limit.ts";

const LIMITS =
  `Limit                     Soft Limit           Hard Limit           Units     
Max cpu time              unlimited            unlimited            seconds   
Max processes             63432                63432                processes 
Max open files            1024                 524288               files     
Max locked memory         8388608              8388608              bytes     
`;

describe("parseDescriptorLimit()", () => {
  it("reads the soft and hard open-file limits", () => {
    assert.deepEqual(parseDescriptorLimit(LIMITS), {
      soft: 1024,
      hard: 524288,
    });
  });

  it("reads unlimited as Infinity", () => {
    assert.deepEqual(
      parseDescriptorLimit(
        "Max open files            unlimited            unlimited            files\n",
      ),
      { soft: Infinity, hard: Infinity },
    );
  });

  it("gives null without the line", () => {
    assert.equal(parseDescriptorLimit(""), null);
    assert.equal(parseDescriptorLimit(LIMITS.replace("open files", "x")), null);
  });
});
