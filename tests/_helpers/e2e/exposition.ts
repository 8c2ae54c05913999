/**
 * Reading Prometheus metrics the way a scraper does: fetch the text over
 * HTTP and parse the exposition format into samples.
 *
 * @module
 */

import assert from "node:assert/strict";
import { withTimeout } from "./with_timeout.ts";

// A sample line of the text format: name, optional {labels}, value.
const SAMPLE =
  /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*",?)*\})? (\S+)$/;

/**
 * Sample values by `name{labels}`, exactly as the labels are written.
 * Asserts that every line is a HELP/TYPE comment or a sample and that no
 * sample repeats.
 *
 * @example
 * ```ts
 * import { parseExposition } from "./exposition.ts";
 * const samples = parseExposition('# TYPE x counter\nx{a="b"} 3\n');
 * console.log(samples.get('x{a="b"}')); // 3
 * ```
 */
export function parseExposition(text: string): Map<string, number> {
  assert.ok(text.endsWith("\n"), "the exposition ends with a newline");
  const values = new Map<string, number>();
  for (const line of text.slice(0, -1).split("\n")) {
    if (/^# (HELP|TYPE) /.test(line)) continue;
    const match = SAMPLE.exec(line);
    assert.ok(match !== null, `not a sample line: ${JSON.stringify(line)}`);
    const [, name, labels = "", value] = match as unknown as string[];
    const key = `${name}${labels}`;
    assert.ok(!values.has(key), `one sample for ${key}`);
    values.set(key, value === "+Inf" ? Infinity : Number(value));
  }
  return values;
}

/**
 * GETs `url` and parses the exposition; asserts status 200.
 *
 * @example
 * ```ts
 * import { scrapeMetrics } from "./exposition.ts";
 * async function accepted(url: string) {
 *   return (await scrapeMetrics(url)).get("edgesocks_connections_accepted_total");
 * }
 * ```
 */
export async function scrapeMetrics(
  url: string,
  ms = 5_000,
): Promise<Map<string, number>> {
  const text = await withTimeout(
    (async () => {
      const response = await fetch(url, { signal: AbortSignal.timeout(ms) });
      const body = await response.text();
      assert.equal(response.status, 200, body);
      return body;
    })(),
    ms + 1_000,
    `GET ${url}`,
  );
  return parseExposition(text);
}

/**
 * One sample's value; fails when the sample is missing.
 *
 * @example
 * ```ts
 * import { sample } from "./exposition.ts";
 * console.log(sample(new Map([["up", 1]]), "up")); // 1
 * ```
 */
export function sample(
  samples: ReadonlyMap<string, number>,
  key: string,
): number {
  const value = samples.get(key);
  assert.ok(value !== undefined, `no sample ${key}`);
  return value;
}
