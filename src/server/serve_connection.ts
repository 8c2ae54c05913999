/**
 * One client, from accept to close, on any runtime: (a load balancer's
 * PROXY header →) handshake → authenticate → request → the command's
 * handler → access log.
 *
 * Until the request, the connection pushes its bytes to a driver that
 * feeds the sans-IO handshake and acts on its answers: no promise per
 * read and no suspended function per waiting client, which is most of what
 * a short connection costs. Only the request's handler is async.
 *
 * @module
 */

import { bindCommand } from "./commands/bind.ts";
import { connectCommand } from "./commands/connect.ts";
import { udpAssociateCommand } from "./commands/udp_associate.ts";
import type { Connection, Receiver } from "../net/connection.ts";
import { Receiving } from "../net/receive.ts";
import {
  Handshake,
  type HandshakeEvent,
  type HandshakeStep,
} from "./handshake.ts";
import type { ServerConfig } from "./options.ts";
import { admitRelayedClient, admitRequest, refuseClient } from "./admission.ts";
import { concat } from "../bytes.ts";
import { decodeProxyHeader, type ProxyHeader } from "../wire/proxy_header.ts";
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
export function serveConnection(
  client: Connection,
  context: {
    server: ServerState;
    scope: ConnectionScope;
    fromBalancer?: boolean;
  },
): Promise<void> {
  return new Promise((resolve) => {
    new ConnectionDriver(client, context, resolve).start();
  });
}

// Who the server is talking to: the connection's peer, or the client a
// balancer's PROXY header named (`via` the balancer).
interface Peer {
  address: HostPort;
  text: string;
  via: HostPort | null;
}

function viaField(peer: Peer): { via?: string } {
  return peer.via === null ? {} : { via: formatHostPort(peer.via) };
}

const EMPTY = new Uint8Array(0);

// Where the driver is: reading a balancer's header, in the handshake,
// serving the request, sending a failed handshake's last bytes, or closed.
type Phase = "header" | "handshake" | "request" | "closing" | "closed";

// Everything one client holds until its request: fed bytes by the
// connection, it answers through the handshake state machine.
class ConnectionDriver implements Receiver {
  #client: Connection;
  #server: ServerState;
  #scope: ConnectionScope;
  #fromBalancer: boolean;
  #done: () => void;
  #started = Date.now();
  #phase: Phase = "handshake";
  #peer: Peer;
  // A balancer's header so far.
  #header: Uint8Array = EMPTY;
  #handshake: Handshake | null = null;
  #user: string | null = null;
  #receiving: Receiving;
  // The peer's FIN came while its login was being checked.
  #peerEnded = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timedOut = false;
  #evicted = false;
  // Set once a failure is logged with its error: close() then logs no
  // timeout that follows it.
  #failed = false;
  #handshaking: (succeeded?: boolean) => void = () => {};
  #relayed: (() => void) | null = null;
  #record: AccessRecord | null = null;

  constructor(
    client: Connection,
    context: {
      server: ServerState;
      scope: ConnectionScope;
      fromBalancer?: boolean;
    },
    done: () => void,
  ) {
    this.#client = client;
    this.#server = context.server;
    this.#scope = context.scope;
    this.#fromBalancer = context.fromBalancer ?? false;
    this.#done = done;
    const address = client.remoteAddress;
    this.#peer = { address, text: formatHostPort(address), via: null };
    this.#receiving = new Receiving(client, this);
  }

  start(): void {
    const client = this.#client;
    if (!this.#fromBalancer && !this.#takeSlot(client.remoteAddress, null)) {
      this.#phase = "closed";
      return this.#done();
    }
    this.#server.metrics.connectionAccepted();
    // The header counts against the handshake timeout like the greeting.
    this.#timer = setTimeout(
      this.#timeOut,
      this.#server.config.handshakeTimeout,
    );
    if (this.#fromBalancer) this.#phase = "header";
    else this.#beginHandshake();
    this.#receiving.start();
  }

  data(chunk: Uint8Array): void {
    if (this.#phase === "handshake") this.#act(this.#handshake!.receive(chunk));
    else if (this.#phase === "header") this.#readHeader(chunk);
  }

  end(error: unknown): void {
    if (this.#phase !== "header" && this.#phase !== "handshake") return;
    if (error !== null) return this.#fail(error);
    // A login still being checked may be followed by a pipelined request.
    if (this.#handshake?.authenticating) {
      this.#peerEnded = true;
      return;
    }
    if (this.#phase === "header" && this.#header.length > 0) {
      return this.#refuseHeader(
        `Cannot decode PROXY header: the connection ended after ${this.#header.length} bytes`,
      );
    }
    // A plain TCP health check, or a client gone mid-handshake.
    this.#close();
  }

  // A newcomer evicted this client's handshake slot, or it took too long.
  #evict = () => {
    this.#evicted = true;
    this.#close();
  };
  #timeOut = () => {
    this.#timedOut = true;
    this.#close();
  };

  // A balancer's connections all come from its own address, so theirs is
  // taken for the client its header names, once read.
  #takeSlot(address: HostPort, via: HostPort | null): boolean {
    const slot = this.#server.pending.admit(address.host, this.#evict);
    if ("refused" in slot) {
      refuseClient(this.#server, this.#client, {
        ...slot,
        ...(via === null ? {} : { client: address }),
      });
      return false;
    }
    this.#handshaking = slot.release;
    return true;
  }

  #beginHandshake(): void {
    this.#phase = "handshake";
    this.#handshake = new Handshake({
      methods: this.#server.config.methodsFor(this.#peer.address.host),
    });
  }

  #readHeader(chunk: Uint8Array): void {
    this.#header = this.#header.length === 0
      ? chunk
      : concat([this.#header, chunk]);
    const result = decodeProxyHeader(this.#header);
    if (result.status === "partial") return;
    if (result.status === "invalid") {
      return this.#refuseHeader(result.error.message);
    }
    const leftover = this.#header.subarray(result.bytesRead);
    this.#header = EMPTY;
    if (!this.#admitRelayed(result.value)) return this.#close();
    this.#beginHandshake();
    // Bytes that came with the header are the greeting's start.
    if (leftover.length > 0) this.#act(this.#handshake!.receive(leftover));
  }

  #refuseHeader(message: string): void {
    this.#server.metrics.handshakeFailed("proxy_header");
    this.#server.config.logger.log({
      level: "warn",
      msg: "handshake failed",
      client: this.#peer.text,
      reason: "proxy_header",
      error: message,
    });
    this.#close();
  }

  // Admits the client a balancer's header names; false: refused, already
  // logged and counted.
  #admitRelayed(header: ProxyHeader): boolean {
    // LOCAL is the balancer's own connection (a health check): served as
    // itself. A PROXY header without addresses (v1 UNKNOWN, v2 UNSPEC or
    // UNIX) means the same endpoints, but is a client to check.
    if (header.command === "local") {
      return this.#takeSlot(this.#peer.address, null);
    }
    const balancer = this.#peer.address;
    const address = header.source ?? balancer;
    const via = header.source === null ? null : balancer;
    const admission = admitRelayedClient(this.#server, address.host);
    if ("refused" in admission) {
      refuseClient(this.#server, this.#client, {
        ...admission,
        ...(via === null ? {} : { client: address }),
      });
      return false;
    }
    this.#peer = { address, text: formatHostPort(address), via };
    this.#relayed = admission.release;
    return this.#takeSlot(address, via);
  }

  // Sends what the handshake answered, then does what it asks.
  #act(step: HandshakeStep): void {
    if (step.send.length > 0) this.#write(step.send);
    const event = step.event;
    switch (event.type) {
      case "read":
        if (this.#peerEnded) this.#close();
        return;
      case "authenticate":
        return this.#authenticate(event);
      case "failed":
        return this.#handshakeFailed(event);
      case "request":
        return this.#requested(event.request, event.leftover);
    }
  }

  #write(bytes: Uint8Array): void {
    this.#client.write(bytes).then(undefined, this.#writeFailed);
  }
  #writeFailed = (error: unknown) => this.#fail(error);

  #authenticate(login: { username: string; password: string }): void {
    this.#user = login.username;
    const ok = checkLogin(this.#server.config, {
      ...login,
      client: this.#peer.address,
    });
    if (typeof ok === "boolean") this.#authenticated(ok);
    else void ok.then(this.#authenticated);
  }

  #authenticated = (ok: boolean): void => {
    const server = this.#server;
    const ip = this.#peer.address.host;
    // Counted even for a client that timed out meanwhile: the password
    // was still right or wrong.
    if (ok) server.throttle.succeeded(ip);
    else if (server.throttle.failed(ip)) {
      server.metrics.loginThrottled();
      server.config.logger.log({
        level: "warn",
        msg: "login throttled",
        client: this.#peer.text,
        ...viaField(this.#peer),
        blocked_ms: server.config.loginThrottle.block,
      });
    }
    // Timed out or evicted while the credential store answered.
    if (this.#phase !== "handshake") return;
    this.#act(this.#handshake!.authenticated(ok));
  };

  #handshakeFailed(
    event: Extract<HandshakeEvent, { type: "failed" }>,
  ): void {
    const { metrics, config } = this.#server;
    metrics.handshakeFailed(event.reason);
    if (event.reason === "auth_failed") metrics.authFailed();
    config.logger.log({
      level: event.reason === "auth_failed" ? "warn" : "info",
      msg: "handshake failed",
      client: this.#peer.text,
      ...viaField(this.#peer),
      user: this.#user ?? undefined,
      reason: event.reason,
      error: event.message,
    });
    // The reply, then FIN, then the close: nothing more is read.
    this.#receiving.stop();
    this.#phase = "closing";
    void this.#client.closeWrite().then(this.#close, this.#close);
  }

  #requested(request: Request, leftover: Uint8Array): void {
    this.#receiving.stop();
    clearTimeout(this.#timer);
    this.#phase = "request";
    this.#handshaking(true);
    void this.#serve(request, leftover).then(this.#close);
  }

  // The request's handler, with the limits that admit it and the counts
  // it leaves. Never rejects.
  async #serve(request: Request, leftover: Uint8Array): Promise<void> {
    const server = this.#server;
    const { metrics } = server;
    const peer = this.#peer;
    const user = this.#user;
    const record: AccessRecord = {
      client: peer.text,
      ...viaField(peer),
      user,
      command: commandNames[request.command],
      destination: formatHostPort(request.destination),
      reply: null,
      up: 0,
      down: 0,
    };
    this.#record = record;
    const command = record.command as CommandName;
    const requestScope = new RequestScope(this.#scope, metrics, command);
    const context = {
      client: this.#client,
      clientAddress: peer.address,
      request,
      leftover,
      user,
      server,
      record,
      scope: requestScope,
    };
    try {
      const admission = admitRequest(server, {
        command: request.command,
        user,
      });
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
      this.#fail(error);
    }
  }

  // Logs a failure with its error, then closes.
  #fail(error: unknown): void {
    if (this.#phase === "closed" || this.#failed) return;
    this.#failed = true;
    // A timeout closes at once, so a failure is never a timeout's.
    this.#server.config.logger.log({
      level: "debug",
      msg: "connection failed",
      client: this.#peer.text,
      ...viaField(this.#peer),
      error: (error as Error)?.message ?? String(error),
    });
    // A request or a last reply still under way closes when it is done.
    if (this.#phase === "header" || this.#phase === "handshake") this.#close();
  }

  // The end of every path after start(): once, whatever ended it.
  #close = (): void => {
    if (this.#phase === "closed") return;
    this.#phase = "closed";
    const { metrics, config: { logger } } = this.#server;
    const peer = this.#peer;
    const record = this.#record;
    this.#receiving.stop();
    clearTimeout(this.#timer);
    this.#handshaking();
    this.#relayed?.();
    this.#client.close();
    metrics.connectionClosed();
    if (this.#evicted && record === null) {
      metrics.connectionRefused("pending_evicted");
      logger.log({
        level: "warn",
        msg: "refused",
        client: peer.text,
        ...viaField(peer),
        reason: "pending_evicted",
      });
    }
    if (this.#timedOut && record === null) metrics.handshakeFailed("timeout");
    if (record !== null) {
      logger.log({
        level: "info",
        msg: "access",
        ...record,
        duration_ms: Date.now() - this.#started,
      });
    } else if (this.#timedOut && !this.#failed) {
      logger.log({
        level: "info",
        msg: "handshake timed out",
        client: peer.text,
        ...viaField(peer),
      });
    }
    this.#done();
  };
}

// A failing credential store answers like a wrong password (RFC 1929 status
// 0x01 and a close) rather than leaving the client without a status. A
// store that answers at once is answered at once: no promise.
function checkLogin(
  config: ServerConfig,
  login: { username: string; password: string; client: HostPort },
): boolean | Promise<boolean> {
  const failed = (error: unknown) => {
    config.logger.log({
      level: "error",
      msg: "authenticate failed",
      client: formatHostPort(login.client),
      user: login.username,
      error: (error as Error)?.message ?? String(error),
    });
    return false;
  };
  try {
    const ok = config.authenticate!(
      login.username,
      login.password,
      login.client,
    );
    if (typeof ok === "boolean") return ok;
    return Promise.resolve(ok).then((value) => value === true, failed);
  } catch (error) {
    return failed(error);
  }
}
