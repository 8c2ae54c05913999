/**
 * One client, from accept to close, on any runtime: (a load balancer's
 * PROXY header →) read → handshake → authenticate → request → the
 * command's handler → access log.
 *
 * @module
 */

import { bindCommand } from "./commands/bind.ts";
import { connectCommand } from "./commands/connect.ts";
import { udpAssociateCommand } from "./commands/udp_associate.ts";
import type { Connection } from "../net/connection.ts";
import { Handshake, type HandshakeStep } from "./handshake.ts";
import type { ServerConfig } from "./options.ts";
import { admitRelayedClient, admitRequest, refuseClient } from "./admission.ts";
import { readProxyHeader } from "./proxy_protocol.ts";
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
 * Serves `client` until it is done, then closes it. Never rejects. With
 * `fromBalancer`, the connection must open with a PROXY header, and the
 * client it names is checked and served as the client.
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
  context: {
    server: ServerState;
    scope: ConnectionScope;
    fromBalancer?: boolean;
  },
): Promise<void> {
  const { server, scope, fromBalancer = false } = context;
  const { logger, handshakeTimeout } = server.config;
  const started = Date.now();
  let peer: Peer = {
    address: client.remoteAddress,
    text: formatHostPort(client.remoteAddress),
    via: null,
    leftover: new Uint8Array(0),
  };
  const { metrics } = server;
  let evicted = false;
  let handshaking: (succeeded?: boolean) => void = () => {};
  // A balancer's connections all come from its own address, so theirs is
  // taken for the client its header names, once read.
  const takeSlot = (address: HostPort, via: HostPort | null): boolean => {
    const slot = server.pending.admit(address.host, () => {
      evicted = true;
      client.close();
    });
    if ("refused" in slot) {
      refuseClient(server, client, {
        ...slot,
        ...(via === null ? {} : { client: address }),
      });
      return false;
    }
    handshaking = slot.release;
    return true;
  };
  if (!fromBalancer && !takeSlot(client.remoteAddress, null)) return;
  metrics.connectionAccepted();
  let timedOut = false;
  // The catch logs a timeout with its error; the finally must not again.
  let failed = false;
  // The header counts against the handshake timeout like the greeting.
  const timer = setTimeout(() => {
    timedOut = true;
    client.close();
  }, handshakeTimeout);
  let record: AccessRecord | null = null;
  let relayed: (() => void) | null = null;
  try {
    if (fromBalancer) {
      const behind = await readBalancerHeader(client, server, {
        peer,
        timedOut: () => timedOut,
      });
      if (behind === null) return;
      peer = behind.peer;
      relayed = behind.release;
      if (!takeSlot(peer.address, peer.via)) return;
    }
    const negotiated = await negotiate(client, server, peer);
    clearTimeout(timer);
    handshaking(negotiated !== null && !timedOut && !evicted);
    // A request decoded after the timer closed the client (a slow
    // authenticate with a pipelined request) is not served.
    if (negotiated === null || timedOut || evicted) return;
    const { request, leftover, user } = negotiated;
    record = {
      client: peer.text,
      ...(peer.via === null ? {} : { via: formatHostPort(peer.via) }),
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
      clientAddress: peer.address,
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
      client: peer.text,
      ...viaField(peer),
      error: (error as Error)?.message ?? String(error),
    });
  } finally {
    clearTimeout(timer);
    handshaking();
    relayed?.();
    client.close();
    metrics.connectionClosed();
    if (evicted && record === null) {
      metrics.connectionRefused("pending_evicted");
      logger.log({
        level: "warn",
        msg: "refused",
        client: peer.text,
        ...viaField(peer),
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
        client: peer.text,
        ...viaField(peer),
      });
    }
  }
}

// Who the server is talking to: the connection's peer, or the client a
// balancer's PROXY header named (`via` the balancer), and the bytes that
// followed the header.
interface Peer {
  address: HostPort;
  text: string;
  via: HostPort | null;
  leftover: Uint8Array;
}

function viaField(peer: Peer): { via?: string } {
  return peer.via === null ? {} : { via: formatHostPort(peer.via) };
}

// Reads a balancer's PROXY header and admits the client it names. `null`:
// the connection is done with (closed before a byte, no valid header, or
// the client refused), already logged and counted.
async function readBalancerHeader(
  client: Connection,
  server: ServerState,
  options: { peer: Peer; timedOut: () => boolean },
): Promise<{ peer: Peer; release: (() => void) | null } | null> {
  const { peer } = options;
  const read = await readProxyHeader(client);
  // A plain TCP health check, or a timeout the caller counts.
  if (read.status === "closed" || options.timedOut()) return null;
  if (read.status === "invalid") {
    server.metrics.handshakeFailed("proxy_header");
    server.config.logger.log({
      level: "warn",
      msg: "handshake failed",
      client: peer.text,
      reason: "proxy_header",
      error: read.message,
    });
    return null;
  }
  const { header, leftover } = read;
  // LOCAL is the balancer's own connection (a health check): served as
  // itself. A PROXY header without addresses (v1 UNKNOWN, v2 UNSPEC or
  // UNIX) means the same endpoints, but is a client to check.
  if (header.command === "local") {
    return { peer: { ...peer, leftover }, release: null };
  }
  const address = header.source ?? peer.address;
  const relayedPeer: Peer = {
    address,
    text: formatHostPort(address),
    via: header.source === null ? null : peer.address,
    leftover,
  };
  const admission = admitRelayedClient(server, address.host);
  if ("refused" in admission) {
    refuseClient(server, client, {
      ...admission,
      ...(relayedPeer.via === null ? {} : { client: address }),
    });
    return null;
  }
  return { peer: relayedPeer, release: admission.release };
}

async function negotiate(
  client: Connection,
  server: ServerState,
  peer: Peer,
): Promise<
  { request: Request; leftover: Uint8Array; user: string | null } | null
> {
  const { config } = server;
  const handshake = new Handshake({
    methods: config.methodsFor(peer.address.host),
  });
  let user: string | null = null;
  // Bytes that came with a PROXY header are the greeting's start.
  let step: HandshakeStep = peer.leftover.length > 0
    ? handshake.receive(peer.leftover)
    : { send: new Uint8Array(0), event: { type: "read" } };
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
          client: peer.address,
        });
        const ip = peer.address.host;
        if (ok) server.throttle.succeeded(ip);
        else if (server.throttle.failed(ip)) {
          server.metrics.loginThrottled();
          config.logger.log({
            level: "warn",
            msg: "login throttled",
            client: peer.text,
            ...viaField(peer),
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
          client: peer.text,
          ...viaField(peer),
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
