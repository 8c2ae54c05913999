/**
 * One client, from accept to close, on any runtime: read → handshake →
 * authenticate → request → the command's handler → access log.
 *
 * @module
 */

import { bindCommand } from "./commands/bind.ts";
import { connectCommand } from "./commands/connect.ts";
import { udpAssociateCommand } from "./commands/udp_associate.ts";
import type { Connection, Network } from "./connection.ts";
import { Handshake, type HandshakeStep } from "./handshake.ts";
import type { ServerConfig } from "./options.ts";
import type { SessionTable } from "./sessions.ts";
import type { Limits } from "./limits.ts";
import type { LoginThrottle } from "./login_throttle.ts";
import { admitRequest, refuseClient } from "./admission.ts";
import type { CommandName, Metrics } from "./metrics.ts";
import { formatHostPort, type HostPort } from "./wire/address.ts";
import { Command, Reply } from "./wire/constants.ts";
import { encodeReply } from "./wire/reply.ts";
import type { Request } from "./wire/request.ts";

/**
 * What every connection of one server shares.
 *
 * @example
 * ```ts
 * import type { ServerState } from "./serve_connection.ts";
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
 * import type { ConnectionScope } from "./serve_connection.ts";
 * import type { Connection } from "./connection.ts";
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
 * import type { AccessRecord } from "./serve_connection.ts";
 * const record: AccessRecord = {
 *   client: "127.0.0.1:50000", user: null, command: "connect",
 *   destination: "example.com:443", reply: 0, up: 0, down: 0,
 * };
 * ```
 */
export interface AccessRecord {
  /** The client's address. */
  client: string;
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
 * import type { RequestContext } from "./serve_connection.ts";
 * function describe(context: RequestContext): string {
 *   return `${context.record.command} ${context.record.destination}`;
 * }
 * ```
 */
export interface RequestContext {
  /** The client's connection. */
  client: Connection;
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
 * import type { CommandHandler } from "./serve_connection.ts";
 * import { sendReply } from "./serve_connection.ts";
 * const refuse: CommandHandler = (context) => sendReply(context, { reply: 0x07 });
 * ```
 */
export type CommandHandler = (context: RequestContext) => Promise<void>;

const commandNames: Readonly<Record<Command, string>> = {
  [Command.Connect]: "connect",
  [Command.Bind]: "bind",
  [Command.UdpAssociate]: "udp",
};

/**
 * Sends a reply and records its code. A failure reply is followed by a
 * half-close (RFC 1928 §6: the server closes after a failure).
 *
 * @example
 * ```ts
 * import { sendReply, type RequestContext } from "./serve_connection.ts";
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

const handlers: Readonly<Record<Command, CommandHandler>> = {
  [Command.Connect]: connectCommand,
  [Command.Bind]: bindCommand,
  [Command.UdpAssociate]: udpAssociateCommand,
};

// The client's scope, seen by one request: counts its tunnel as open the
// first time the handler says bytes flow.
class RequestScope implements ConnectionScope {
  tunnelOpen = false;
  #outer: ConnectionScope;
  #metrics: Metrics;
  #command: CommandName;

  constructor(outer: ConnectionScope, metrics: Metrics, command: CommandName) {
    this.#outer = outer;
    this.#metrics = metrics;
    this.#command = command;
  }

  abortOnClose(controller: AbortController): () => void {
    return this.#outer.abortOnClose(controller);
  }

  adopt(conn: Connection): void {
    this.#outer.adopt(conn);
  }

  relaying(): void {
    if (!this.tunnelOpen) {
      this.tunnelOpen = true;
      this.#metrics.tunnelOpened(this.#command);
    }
    this.#outer.relaying();
  }
}

/**
 * Serves `client` until it is done, then closes it. Never rejects.
 *
 * @example
 * ```ts
 * import { serveConnection, type ConnectionScope, type ServerState } from "./serve_connection.ts";
 * import type { Connection } from "./connection.ts";
 * function onAccept(conn: Connection, state: ServerState, scope: ConnectionScope) {
 *   void serveConnection(conn, { server: state, scope });
 * }
 * ```
 */
export async function serveConnection(
  client: Connection,
  context: { server: ServerState; scope: ConnectionScope },
): Promise<void> {
  const { server, scope } = context;
  const { logger, handshakeTimeout } = server.config;
  const started = Date.now();
  const clientText = formatHostPort(client.remoteAddress);
  const { metrics } = server;
  const handshaking = server.limits.acquire("maxPendingHandshakes");
  if (handshaking === null) {
    refuseClient(server, client, { refused: "maxPendingHandshakes" });
    return;
  }
  metrics.connectionAccepted();
  let timedOut = false;
  // The catch logs a timeout with its error; the finally must not again.
  let failed = false;
  const timer = setTimeout(() => {
    timedOut = true;
    client.close();
  }, handshakeTimeout);
  let record: AccessRecord | null = null;
  try {
    const negotiated = await negotiate(client, server, clientText);
    clearTimeout(timer);
    handshaking();
    // A request decoded after the timer closed the client (a slow
    // authenticate with a pipelined request) is not served.
    if (negotiated === null || timedOut) return;
    const { request, leftover, user } = negotiated;
    record = {
      client: clientText,
      user,
      command: commandNames[request.command],
      destination: formatHostPort(request.destination),
      reply: null,
      up: 0,
      down: 0,
    };
    const command = record.command as CommandName;
    const requestScope = new RequestScope(scope, metrics, command);
    const context = {
      client,
      request,
      leftover,
      user,
      server,
      record,
      scope: requestScope,
    };
    const admission = admitRequest(server, { command: request.command, user });
    if ("refused" in admission) {
      // RFC 1928 has no "too many" reply: a general failure, as 3proxy does.
      record.end = `limit ${admission.refused}`;
      metrics.connectionRefused("limit");
      await sendReply(context, { reply: Reply.GeneralFailure });
      return;
    }
    try {
      await handlers[request.command](context);
    } finally {
      admission.release();
      if (requestScope.tunnelOpen) metrics.tunnelClosed(command);
      metrics.bytes(record);
      metrics.datagrams({
        up: record.datagramsUp ?? 0,
        down: record.datagramsDown ?? 0,
        dropped: record.dropped ?? 0,
      });
    }
  } catch (error) {
    failed = true;
    logger.log({
      level: timedOut ? "info" : "debug",
      msg: timedOut ? "handshake timed out" : "connection failed",
      client: clientText,
      error: (error as Error)?.message ?? String(error),
    });
  } finally {
    clearTimeout(timer);
    handshaking();
    client.close();
    metrics.connectionClosed();
    if (timedOut && record === null) metrics.handshakeFailed("timeout");
    if (record !== null) {
      logger.log({
        level: "info",
        msg: "access",
        ...record,
        duration_ms: Date.now() - started,
      });
    } else if (timedOut && !failed) {
      logger.log({
        level: "info",
        msg: "handshake timed out",
        client: clientText,
      });
    }
  }
}

async function negotiate(
  client: Connection,
  server: ServerState,
  clientText: string,
): Promise<
  { request: Request; leftover: Uint8Array; user: string | null } | null
> {
  const { config } = server;
  const handshake = new Handshake({
    methods: config.methodsFor(client.remoteAddress.host),
  });
  let user: string | null = null;
  let step: HandshakeStep = {
    send: new Uint8Array(0),
    event: { type: "read" },
  };
  for (;;) {
    if (step.send.length > 0) await client.write(step.send);
    const event = step.event;
    switch (event.type) {
      case "read": {
        const chunk = await client.read();
        if (chunk === null) return null;
        step = handshake.receive(chunk);
        break;
      }
      case "authenticate": {
        user = event.username;
        const ok = await checkLogin(config, {
          ...event,
          client: client.remoteAddress,
        });
        const ip = client.remoteAddress.host;
        if (ok) server.throttle.succeeded(ip);
        else if (server.throttle.failed(ip)) {
          server.metrics.loginThrottled();
          config.logger.log({
            level: "warn",
            msg: "login throttled",
            client: clientText,
            blocked_ms: config.loginThrottle.block,
          });
        }
        step = handshake.authenticated(ok);
        break;
      }
      case "failed":
        server.metrics.handshakeFailed(event.reason);
        if (event.reason === "auth_failed") server.metrics.authFailed();
        await client.closeWrite();
        config.logger.log({
          level: event.reason === "auth_failed" ? "warn" : "info",
          msg: "handshake failed",
          client: clientText,
          user: user ?? undefined,
          reason: event.reason,
          error: event.message,
        });
        return null;
      case "request":
        return { request: event.request, leftover: event.leftover, user };
    }
  }
}

// A failing credential store answers like a wrong password (RFC 1929 status
// 0x01 and a close) rather than leaving the client without a status.
async function checkLogin(
  config: ServerConfig,
  login: { username: string; password: string; client: HostPort },
): Promise<boolean> {
  try {
    return await config.authenticate!(
      login.username,
      login.password,
      login.client,
    ) === true;
  } catch (error) {
    config.logger.log({
      level: "error",
      msg: "authenticate failed",
      client: formatHostPort(login.client),
      user: login.username,
      error: (error as Error)?.message ?? String(error),
    });
    return false;
  }
}
