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
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import * as net from "node:net";
import process from "node:process";
import { refusedPort } from "./free_port.ts";
import type { Credentials, Endpoint } from "./socks_raw.ts";
import { delay, withTimeout } from "./with_timeout.ts";

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
  const child = spawn(MICROSOCKS, args, {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (chunk) => stderr += String(chunk));
  const exited = new Promise<void>((resolve) => {
    child.once("exit", () => resolve());
    child.once("error", () => resolve());
  });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill();
    await withTimeout(exited, 5_000, "microsocks to exit");
  };
  try {
    await untilListening(child, port);
  } catch (error) {
    await stop();
    throw new Error(`microsocks did not start: ${error} ${stderr}`.trim());
  }
  return { endpoint: { host: "127.0.0.1", port }, stop };
}

/**
 * Polls until a TCP connect to 127.0.0.1:`port` succeeds, failing if
 * `child` exits first: bounded to 50 tries, 5 s.
 */
export async function untilListening(
  child: ChildProcess,
  port: number,
): Promise<void> {
  for (let attempt = 0; attempt < 50; attempt++) {
    if (child.exitCode !== null) {
      throw new Error(`it exited with ${child.exitCode}`);
    }
    const ok = await withTimeout(
      new Promise<boolean>((resolve) => {
        const socket = net.connect({ host: "127.0.0.1", port });
        socket.once("connect", () => {
          socket.destroy();
          resolve(true);
        });
        socket.once("error", () => resolve(false));
      }),
      1_000,
      `connecting to port ${port}`,
    ).catch(() => false);
    if (ok) return;
    await delay(100);
  }
  throw new Error(`nothing listens on port ${port} after 5 s`);
}
