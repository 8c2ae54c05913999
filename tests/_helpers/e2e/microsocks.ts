/**
 * An independent SOCKS5 server for the client and chaining tests:
 * Debian's `microsocks`, started on a free loopback port and killed after.
 * `.ci/run` installs it; a local run without it skips those tests with a
 * message, while CI (`CI=true`) fails them, so a missing install step
 * cannot pass unnoticed.
 *
 * @module
 */

import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import process from "node:process";
import { refusedPort } from "./free_port.ts";
import type { Credentials, Endpoint } from "./socks_raw.ts";
import { startListeningChild } from "./daemon.ts";

/** Where Debian's package puts the binary. */
export const MICROSOCKS = "/usr/bin/microsocks";

let warned = false;

/**
 * Whether the tests that need microsocks can run. When it is absent, CI
 * fails the calling test with a message saying how to install it, and a
 * local run skips it with that message (returns false).
 *
 * @example
 * ```ts
 * import { it } from "node:test";
 * import { requireMicrosocks } from "./microsocks.ts";
 * it("talks to microsocks", (t) => {
 *   if (!requireMicrosocks(t)) return;
 * });
 * ```
 */
export function requireMicrosocks(
  t: { skip(message?: string): void },
): boolean {
  if (existsSync(MICROSOCKS)) return true;
  const message =
    `${MICROSOCKS} is missing: install it with "apt-get install -y microsocks" (.ci/run does)`;
  if (process.env.CI === "true") assert.fail(message);
  // Deno's node:test reports a skipped test as passed, without the reason:
  // say it once where everyone sees it.
  if (!warned) console.warn(`Skipping the microsocks tests: ${message}`);
  warned = true;
  t.skip(message);
  return false;
}

/**
 * A running microsocks.
 *
 * @example
 * ```ts
 * import { startMicrosocks } from "./microsocks.ts";
 * const microsocks = await startMicrosocks();
 * console.log(microsocks.endpoint.host); // "127.0.0.1"
 * await microsocks.stop();
 * ```
 */
export interface Microsocks {
  /** Where it listens. */
  endpoint: Endpoint;
  /** Kills it and waits for it to exit. */
  stop(): Promise<void>;
}

/**
 * Starts microsocks on 127.0.0.1 and a free port (with login when
 * `credentials` are given) and waits until it accepts connections.
 *
 * @example
 * ```ts
 * import { startMicrosocks } from "./microsocks.ts";
 * const microsocks = await startMicrosocks({ username: "alice", password: "s3cret" });
 * await microsocks.stop();
 * ```
 */
export async function startMicrosocks(
  credentials?: Credentials,
): Promise<Microsocks> {
  const port = await refusedPort();
  const args = ["-i", "127.0.0.1", "-p", String(port)];
  if (credentials !== undefined) {
    args.push("-u", credentials.username, "-P", credentials.password);
  }
  const stop = await startListeningChild("microsocks", [MICROSOCKS, ...args], {
    port,
  });
  return { endpoint: { host: "127.0.0.1", port }, stop };
}
