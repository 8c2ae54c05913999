/**
 * Debian's HAProxy, run in the foreground on loopback with the
 * configuration README's "Running many servers" section shows, so the
 * documented setup is the tested one.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repositoryRoot } from "../repository.ts";
import { refusedPort } from "./free_port.ts";
import { startListeningChild } from "./daemon.ts";
import type { Endpoint } from "./socks_raw.ts";

/** Where Debian's package puts the binary. */
export const HAPROXY = "/usr/sbin/haproxy";

/**
 * The first ```haproxy block of README.md, as documented.
 *
 * @example
 * ```ts
 * import { readmeHaproxyConfig } from "./haproxy.ts";
 * console.log(readmeHaproxyConfig().includes("send-proxy-v2")); // true
 * ```
 */
export function readmeHaproxyConfig(): string {
  const readme = readFileSync(join(repositoryRoot(), "README.md"), "utf8");
  const match = /```haproxy\n([\s\S]*?)```/.exec(readme);
  assert.ok(match !== null, "README.md has a ```haproxy block");
  return match[1]!;
}

/**
 * A running HAProxy.
 *
 * @example
 * ```ts
 * import type { Haproxy } from "./haproxy.ts";
 * async function done(haproxy: Haproxy) {
 *   await haproxy.stop();
 * }
 * ```
 */
export interface Haproxy {
  /** The frontend. */
  endpoint: Endpoint;
  /** Kills it by PID, waits for it to exit, removes its config. */
  stop(): Promise<void>;
}

/**
 * Starts HAProxy with `config`, its frontend port 1080 and backend ports
 * 1081 and 1082 replaced by a free port and `backends`. Fails, never skips,
 * when HAProxy is not installed: CI installs it.
 *
 * @example
 * ```ts
 * import { readmeHaproxyConfig, startHaproxy } from "./haproxy.ts";
 * async function front(ports: [number, number]) {
 *   const haproxy = await startHaproxy(readmeHaproxyConfig(), ports);
 *   await haproxy.stop();
 * }
 * ```
 */
export async function startHaproxy(
  config: string,
  backends: readonly [number, number],
): Promise<Haproxy> {
  assert.ok(
    existsSync(HAPROXY),
    `${HAPROXY} is missing: install it with "apt-get install -y haproxy" (.ci/run does)`,
  );
  const port = await refusedPort();
  const text = config
    .replaceAll("127.0.0.1:1080", `127.0.0.1:${port}`)
    .replaceAll("127.0.0.1:1081", `127.0.0.1:${backends[0]}`)
    .replaceAll("127.0.0.1:1082", `127.0.0.1:${backends[1]}`);
  const dir = mkdtempSync(join(tmpdir(), "edgesocks-haproxy-"));
  const file = join(dir, "haproxy.cfg");
  writeFileSync(file, text);
  // -db: stay in the foreground, so the PID is HAProxy's own.
  const stop = await startListeningChild("haproxy", [
    HAPROXY,
    "-db",
    "-f",
    file,
  ], {
    port,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  });
  return { endpoint: { host: "127.0.0.1", port }, stop };
}
