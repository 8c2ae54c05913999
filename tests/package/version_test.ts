import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { VERSION } from "../../src/version.ts";

// Compiled, this file is npm/esm/tests/package/version_test.js.
const root = new URL(
  import.meta.url.endsWith(".js") ? "../../../../" : "../../",
  import.meta.url,
);

function read(path: string): string {
  return readFileSync(new URL(path, root), "utf8");
}

describe("the version", () => {
  it("is src/version.ts's VERSION in deno.json, with JSR's name and exports", () => {
    const { name, version, exports } = JSON.parse(read("deno.json"));
    assert.deepEqual({ name, version, exports }, {
      name: "@edgesocks/edgesocks",
      version: VERSION,
      exports: {
        ".": "./mod.ts",
        "./edge": "./edge.ts",
        "./wire": "./src/wire/mod.ts",
      },
    });
  });

  it("is semver and has a CHANGELOG.md section", () => {
    assert.match(VERSION, /^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/);
    assert.ok(
      read("CHANGELOG.md").split("\n").some((line) =>
        line === `## ${VERSION}` || line.startsWith(`## ${VERSION} `)
      ),
      `no "## ${VERSION}" heading in CHANGELOG.md`,
    );
  });
});
