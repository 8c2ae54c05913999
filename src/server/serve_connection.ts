/**
 * One client, from accept to close, on any runtime: read → handshake →
 * authenticate → request → the command's handler → access log.
 *
 * @module
 */

import { bindCommand } from "./commands/bind.ts";
import { connectCommand } from "./commands/connect.ts";
import { udpAssociateCommand } from "./commands/udp_associate.ts";
import type { Connection } from "../net/connection.ts";
import { Handshake, type HandshakeStep } from "./handshake.ts";
import type { ServerConfig } from "./options.ts";
import { admitRequest, refuseClient } from "./admission.ts";
import {
  type AccessRecord,
  type CommandHandler,
  type ConnectionScope,
  sendReply,
  type ServerState,
} from "./context.ts";
import type { CommandName, Metrics } from "../observe/metrics.ts";
import { formatHostPort, type HostPort } from "../wire/address.ts";
import { Command, Reply } from "../wire/constants.ts";
import type { Request } from "../wire/request.ts";

const commandNames: Readonly<Record<Command, string>> = {
  [Command.Connect]: "connect",
  [Command.Bind]: "bind",
  [Command.UdpAssociate]: "udp",
};

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
 * import type { ConnectionScope, ServerState } from "./context.ts";
 * import { serveConnection } from "./serve_connection.ts";
 * import type { Connection } from "../net/connection.ts";
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
  let evicted = false;
  const slot = server.pending.admit(client.remoteAddress.host, () => {
    evicted = true;
    client.close();
  });
  if ("refused" in slot) {
    refuseClient(server, client, slot);
    return;
  }
  const handshaking = slot.release;
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
    handshaking(negotiated !== null && !timedOut && !evicted);
    // A request decoded after the timer closed the client (a slow
    // authenticate with a pipelined request) is not served.
    if (negotiated === null || timedOut || evicted) return;
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
    if (evicted && record === null) {
      metrics.connectionRefused("pending_evicted");
      logger.log({
        level: "warn",
        msg: "refused",
        client: clientText,
        reason: "pending_evicted",
      });
    }
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
