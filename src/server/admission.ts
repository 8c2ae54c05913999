/**
 * Who gets in: the checks at accept, before a handshake byte is read
 * (throttled address, client rules, global and per-address limits), and
 * the per-user limits once a request names what it wants.
 *
 * @module
 */

import type { Connection } from "../net/connection.ts";
import { type LimitKind, releaseNothing } from "./limits.ts";
import type { ServerState } from "./context.ts";
import { formatHostPort } from "../wire/address.ts";
import { Command } from "../wire/constants.ts";

// What a client or request holds when no limit applies to it.
const HOLDS_NOTHING = { release: releaseNothing };

/**
 * Admits a new client from `clientIp`, or names why not. On admission, call
 * `release` once the client is gone.
 *
 * @example
 * ```ts
 * import { admitClient } from "./admission.ts";
 * import type { ServerState } from "./context.ts";
 * function onAccept(state: ServerState, ip: string) {
 *   const admission = admitClient(state, ip);
 *   if ("refused" in admission) console.log(admission.refused);
 * }
 * ```
 */
export function admitClient(
  server: ServerState,
  clientIp: string,
):
  | { release: () => void }
  | { refused: "throttled" | "rule" | LimitKind; rule?: string } {
  if (server.throttle.isBlocked(clientIp)) return { refused: "throttled" };
  const decision = server.config.rules.checkClient(clientIp);
  if (decision.verdict === "deny") {
    return { refused: "rule", rule: decision.rule! };
  }
  return acquireAll(server, [
    ["maxConnections", ""],
    ["maxConnectionsPerClient", clientIp],
  ]);
}

/**
 * Admits a request of `user` (no per-user limits without login), or names
 * the limit it would break.
 *
 * @example
 * ```ts
 * import { admitRequest } from "./admission.ts";
 * import type { ServerState } from "./context.ts";
 * function onRequest(state: ServerState) {
 *   const admission = admitRequest(state, { command: 0x02, user: "alice" });
 *   if ("release" in admission) admission.release();
 * }
 * ```
 */
export function admitRequest(
  server: ServerState,
  request: { command: Command; user: string | null },
): { release: () => void } | { refused: LimitKind } {
  const { command, user } = request;
  if (user === null) return HOLDS_NOTHING;
  const wanted: [LimitKind, string][] = [["maxConnectionsPerUser", user]];
  if (command === Command.Bind) wanted.push(["maxBindsPerUser", user]);
  if (command === Command.UdpAssociate) wanted.push(["maxUdpPerUser", user]);
  return acquireAll(server, wanted);
}

/**
 * Turns a client away before its handshake: closes it, counts it, and logs
 * why (and the rule, when one decided).
 *
 * @example
 * ```ts
 * import { refuseClient } from "./admission.ts";
 * import type { ServerState } from "./context.ts";
 * import type { Connection } from "../net/connection.ts";
 * function turnAway(state: ServerState, conn: Connection) {
 *   refuseClient(state, conn, { refused: "maxConnections" });
 * }
 * ```
 */
export function refuseClient(
  server: ServerState,
  conn: Connection,
  why: {
    refused: "throttled" | "rule" | LimitKind;
    rule?: string;
  },
): void {
  conn.close();
  const { refused } = why;
  server.metrics.connectionRefused(
    refused === "rule" || refused === "throttled"
      ? refused
      : refused === "maxPendingHandshakes"
      ? "pending_full"
      : refused === "maxPendingHandshakesPerClient"
      ? "pending_per_client"
      : "limit",
  );
  server.config.logger.log({
    level: "warn",
    msg: "refused",
    client: formatHostPort(conn.remoteAddress),
    reason: refused,
    ...(why.rule === undefined ? {} : { rule: why.rule }),
  });
}

function acquireAll(
  server: ServerState,
  wanted: readonly [LimitKind, string][],
): { release: () => void } | { refused: LimitKind } {
  const held: (() => void)[] = [];
  const release = () => held.forEach((give) => give());
  for (const [kind, key] of wanted) {
    const give = server.limits.acquire(kind, key);
    if (give === null) {
      release();
      return { refused: kind };
    }
    if (give !== releaseNothing) held.push(give);
  }
  return held.length === 0 ? HOLDS_NOTHING : { release };
}
