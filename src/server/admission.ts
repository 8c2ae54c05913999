/**
 * Who gets in: the checks at accept, before a handshake byte is read
 * (throttled address, client rules, global and per-address limits) — for
 * a load balancer's connection, once its PROXY header names the client —
 * the per-user limits once a request names what it wants.
 *
 * @module
 */

import type { Connection } from "../net/connection.ts";
import { type LimitKind, releaseNothing } from "./limits.ts";
import type { ServerState } from "./context.ts";
import { formatHostPort, type HostPort } from "../wire/address.ts";
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
  return checkClient(server, clientIp) ?? acquireAll(server, [
    ["maxConnections", ""],
    ["maxConnectionsPerClient", clientIp],
  ]);
}

/**
 * Admits a connection from a load balancer that will name its client in a
 * PROXY header: only the server-wide cap applies until the header is read,
 * then {@linkcode admitRelayedClient} checks the client it names.
 *
 * @example
 * ```ts
 * import { admitBalancer } from "./admission.ts";
 * import type { ServerState } from "./context.ts";
 * function onAccept(state: ServerState) {
 *   const admission = admitBalancer(state);
 *   if ("release" in admission) admission.release();
 * }
 * ```
 */
export function admitBalancer(
  server: ServerState,
): { release: () => void } | { refused: LimitKind } {
  return acquireAll(server, [["maxConnections", ""]]);
}

/**
 * The accept-time checks for the client a PROXY header named (throttled
 * address, client rules, the per-address limit); the server-wide cap is
 * already held by the balancer's connection.
 *
 * @example
 * ```ts
 * import { admitRelayedClient } from "./admission.ts";
 * import type { ServerState } from "./context.ts";
 * function onHeader(state: ServerState, ip: string) {
 *   const admission = admitRelayedClient(state, ip);
 *   if ("refused" in admission) console.log(admission.refused);
 * }
 * ```
 */
export function admitRelayedClient(
  server: ServerState,
  clientIp: string,
):
  | { release: () => void }
  | { refused: "throttled" | "rule" | LimitKind; rule?: string } {
  return checkClient(server, clientIp) ??
    acquireAll(server, [["maxConnectionsPerClient", clientIp]]);
}

function checkClient(
  server: ServerState,
  clientIp: string,
): { refused: "throttled" | "rule"; rule?: string } | null {
  if (server.throttle.isBlocked(clientIp)) return { refused: "throttled" };
  const decision = server.config.rules.checkClient(clientIp);
  if (decision.verdict === "deny") {
    return { refused: "rule", rule: decision.rule! };
  }
  return null;
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
 * why (and the rule, when one decided). `why.client` is the client a PROXY
 * header named on `conn`, logged with the balancer as `via`.
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
    client?: HostPort;
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
    client: formatHostPort(why.client ?? conn.remoteAddress),
    ...(why.client === undefined
      ? {}
      : { via: formatHostPort(conn.remoteAddress) }),
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
