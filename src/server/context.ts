/**
 * What the connection driver hands a command's handler, and the one way a
 * handler answers: the driver imports the handlers, the handlers import this.
 *
 * @module
 */

import type { Connection, Network } from "../net/connection.ts";
import type { CommandName, Metrics } from "../observe/metrics.ts";
import type { LoginThrottle } from "../auth/login_throttle.ts";
import type { HostPort } from "../wire/address.ts";
import { Reply } from "../wire/constants.ts";
import { encodeReply } from "../wire/reply.ts";
import type { Request } from "../wire/request.ts";
import type { Limits } from "./limits.ts";
import type { PendingHandshakes } from "./pending.ts";
import type { ServerConfig } from "./options.ts";
import type { SessionTable } from "./sessions.ts";

/**
 * What every connection of one server shares.
 *
 * @example
 * ```ts
 * import type { ServerState } from "./context.ts";
 * function openTunnels(state: ServerState): number {
 *   return state.sessions.total;
 * }
 * ```
 */
export interface ServerState {
  /** Checked options. */
  config: ServerConfig;
  /** The runtime's network. */
  network: Network;
  /** Open CONNECT tunnels per client and user. */
  sessions: SessionTable;
  /** Concurrency caps. */
  limits: Limits;
  /** Handshake slots, shared fairly between client addresses. */
  pending: PendingHandshakes;
  /** Failed logins per client address. */
  throttle: LoginThrottle;
  /** Counters for `/metrics`. */
  metrics: Metrics;
}

/**
 * The server's hold on one client's connections, so that shutdown can let
 * tunnels finish and close everything else.
 *
 * @example
 * ```ts
 * import type { ConnectionScope } from "./context.ts";
 * import type { Connection } from "../net/connection.ts";
 * const held = new Set<Connection>();
 * const scope: ConnectionScope = {
 *   abortOnClose: () => () => {},
 *   adopt: (c) => held.add(c),
 *   relaying: () => {},
 * };
 * ```
 */
export interface ConnectionScope {
  /**
   * Aborts `controller` if the server closes this client meanwhile (stop
   * dialling for it); call the returned function once it is done with.
   */
  abortOnClose(controller: AbortController): () => void;
  /** Closes `conn` too if the server is forced to shut down. */
  adopt(conn: Connection): void;
  /** The handshake is over and bytes flow: shutdown waits for it. */
  relaying(): void;
}

/**
 * The access-log line of one request, filled in as it is served.
 *
 * @example
 * ```ts
 * import type { AccessRecord } from "./context.ts";
 * const record: AccessRecord = {
 *   client: "127.0.0.1:50000", user: null, command: "connect",
 *   destination: "example.com:443", reply: 0, up: 0, down: 0,
 * };
 * ```
 */
export interface AccessRecord {
  /** The client's address (as a PROXY header named it, behind a balancer). */
  client: string;
  /** The load balancer the client came through, when it sent a PROXY header. */
  via?: string;
  /** Who logged in; `null` without login. */
  user: string | null;
  /** `connect`, `bind` or `udp`. */
  command: string;
  /** DST.ADDR:DST.PORT as the client sent it. */
  destination: string;
  /** The REP sent, or `null` if none was. */
  reply: Reply | null;
  /** Bytes from the client onwards. */
  up: number;
  /** Bytes back to the client. */
  down: number;
  /** The address actually dialled, when it differs from `destination`. */
  remote?: string;
  /** The access rule that denied the request. */
  rule?: string;
  /** Why the tunnel ended, or why the request failed. */
  end?: string;
  /** UDP ASSOCIATE: datagrams relayed to destinations. */
  datagramsUp?: number;
  /** UDP ASSOCIATE: datagrams relayed to the client. */
  datagramsDown?: number;
  /** UDP ASSOCIATE: datagrams dropped (wrong sender, FRAG, malformed). */
  dropped?: number;
}

/**
 * One request, handed to the handler of its command.
 *
 * @example
 * ```ts
 * import type { RequestContext } from "./context.ts";
 * function describe(context: RequestContext): string {
 *   return `${context.record.command} ${context.record.destination}`;
 * }
 * ```
 */
export interface RequestContext {
  /** The client's connection. */
  client: Connection;
  /**
   * The client: the connection's peer, or the client a load balancer named
   * in a PROXY header. Rules, limits and sessions go by this address.
   */
  clientAddress: HostPort;
  /** The decoded request. */
  request: Request;
  /** Bytes the client sent after the request, for the destination. */
  leftover: Uint8Array;
  /** Who logged in; `null` without login. */
  user: string | null;
  /** Shared server state. */
  server: ServerState;
  /** This connection's hold. */
  scope: ConnectionScope;
  /** The access-log line the handler fills in. */
  record: AccessRecord;
}

/**
 * Serves one command after the handshake. Must send a reply, even on
 * failure, and never reject.
 *
 * @example
 * ```ts
 * import type { CommandHandler } from "./context.ts";
 * import { sendReply } from "./context.ts";
 * const refuse: CommandHandler = (context) => sendReply(context, { reply: 0x07 });
 * ```
 */
export type CommandHandler = (context: RequestContext) => Promise<void>;

/**
 * Sends a reply and records its code. A failure reply is followed by a
 * half-close (RFC 1928 §6: the server closes after a failure).
 *
 * @example
 * ```ts
 * import { sendReply, type RequestContext } from "./context.ts";
 * async function refuse(context: RequestContext) {
 *   await sendReply(context, { reply: 0x02 });
 * }
 * ```
 */
export async function sendReply(
  context: RequestContext,
  reply: Parameters<typeof encodeReply>[0],
): Promise<void> {
  context.record.reply = reply.reply;
  context.server.metrics.reply(
    context.record.command as CommandName,
    reply.reply,
  );
  await context.client.write(encodeReply(reply));
  if (reply.reply !== Reply.Succeeded) await context.client.closeWrite();
}
