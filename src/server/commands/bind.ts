/**
 * BIND (RFC 1928 §4–6): listen for one connection from the far side of a
 * protocol such as active FTP, with two replies — the listening address,
 * then the peer that connected — and relay. As in the gateway this server
 * descends from, only a client that holds a CONNECT session may BIND.
 *
 * @module
 */

import type { Connection, Listener, Network } from "../../net/connection.ts";
import { ReplyError, replyForError } from "../../net/dial_error.ts";
import { relay } from "../../net/relay.ts";
import type { CommandHandler, RequestContext } from "../context.ts";
import { sendReply } from "../context.ts";
import {
  formatHostPort,
  type HostPort,
  type SocksAddress,
  toSocksAddress,
} from "../../wire/address.ts";
import { AddressType, Reply } from "../../wire/constants.ts";

/**
 * Serves a BIND request.
 *
 * @example
 * ```ts
 * import { bindCommand } from "./bind.ts";
 * console.log(typeof bindCommand); // "function"
 * ```
 */
export const bindCommand: CommandHandler = async (context) => {
  const { client, server, record, user, request } = context;
  const { config, network, sessions } = server;
  const { destination } = request;
  const isName = destination.type === AddressType.Domain;
  const decision = config.rules.check({
    client: context.clientAddress.host,
    user,
    command: "bind",
    name: isName ? destination.host : null,
    address: isName ? null : destination.host,
    port: destination.port,
  });
  if (!decision.allow) {
    record.rule = decision.rule;
    record.end = `denied by ${decision.rule}`;
    await sendReply(context, { reply: Reply.NotAllowed });
    return;
  }
  const sessionHost = sessions.outboundHost(context.clientAddress.host, user);
  if (sessionHost === null && !config.bindWithoutSession) {
    record.end = "BIND needs an open CONNECT tunnel from this client";
    await sendReply(context, { reply: Reply.NotAllowed });
    return;
  }
  // The interface that reaches the far side: the one the client's CONNECT
  // tunnels leave from, else the one the client reached us on.
  const localHost = sessionHost ?? client.localAddress.host;
  let listener: Listener;
  let expected: Set<string> | null;
  try {
    expected = await expectedPeers(network, destination);
    listener = await listenForBind(network, {
      host: config.externalAddress ?? localHost,
      fallbackHost: localHost,
      ports: config.bindPorts,
    });
  } catch (error) {
    record.end = (error as Error)?.message ?? String(error);
    await sendReply(context, { reply: replyForError(error) });
    return;
  }
  try {
    const advertised = config.externalAddress ?? listener.address.host;
    await sendReply(context, {
      reply: Reply.Succeeded,
      bound: toSocksAddress(advertised, listener.address.port),
    });
    const early = watchClient(client);
    const outcome = await acceptPeer(listener, {
      expected,
      timeout: config.bindTimeout,
      clientGone: early.gone,
      context,
    });
    early.stop();
    if (outcome === "client gone") {
      record.end = "client closed while waiting";
      return;
    }
    if (outcome === "timeout") {
      record.end = `no connection within ${config.bindTimeout} ms`;
      await sendReply(context, { reply: Reply.TtlExpired });
      return;
    }
    listener.close();
    await relayToPeer(context, { peer: outcome, early });
  } finally {
    listener.close();
  }
};

async function relayToPeer(
  context: RequestContext,
  tunnel: { peer: Connection; early: EarlyData },
): Promise<void> {
  const { client, scope, record, server } = context;
  const { peer, early } = tunnel;
  scope.adopt(peer);
  try {
    record.remote = formatHostPort(peer.remoteAddress);
    const { host, port } = peer.remoteAddress;
    await sendReply(context, {
      reply: Reply.Succeeded,
      bound: toSocksAddress(host, port),
    });
    scope.relaying();
    // What the client sent before the peer came (pipelined after the
    // request, or while waiting) goes first, in order.
    for (const chunk of [context.leftover, ...early.chunks]) {
      if (chunk.length === 0) continue;
      record.up += chunk.length;
      await peer.write(chunk);
    }
    const result = await relay(client, peer, {
      idleTimeout: server.config.idleTimeout,
      ...(early.pending === null ? {} : { clientRead: early.pending }),
    });
    record.up += result.up;
    record.down = result.down;
    record.end = result.end;
  } finally {
    peer.close();
  }
}

// Bytes a client may send while its BIND waits, at most: beyond this the
// client is no longer read (and its leaving no longer seen) until a peer
// comes, so a client cannot make the server buffer without bound.
const EARLY_DATA_LIMIT = 64 * 1024;

interface EarlyData {
  /** Chunks read while waiting, for the peer. */
  chunks: Uint8Array[];
  /** A read still under way when watching stopped: the relay's first. */
  pending: Promise<Uint8Array | null> | null;
  /** Resolves when the client leaves; never, once watching stops. */
  gone: Promise<void>;
  /** Stops watching; what is read from now on belongs to the relay. */
  stop(): void;
}

// Reads the client while its BIND waits, so a client that leaves frees the
// port at once, and keeps what it sends for the peer.
function watchClient(client: Connection): EarlyData {
  let stopped = false;
  let size = 0;
  const early: EarlyData = {
    chunks: [],
    pending: null,
    gone: Promise.resolve(),
    stop: () => stopped = true,
  };
  const watch = async (): Promise<boolean> => {
    while (size < EARLY_DATA_LIMIT) {
      const read = client.read();
      read.catch(() => {});
      early.pending = read;
      let chunk;
      try {
        chunk = await read;
      } catch {
        return !stopped;
      }
      if (stopped) return false; // the relay takes this chunk
      early.pending = null;
      if (chunk === null) return true;
      early.chunks.push(chunk);
      size += chunk.length;
    }
    return false;
  };
  early.gone = watch().then((gone) =>
    gone ? undefined : new Promise<void>(() => {})
  );
  return early;
}

// DST.ADDR all zeros: any peer; otherwise only that address (a name: any
// of its addresses).
async function expectedPeers(
  network: Network,
  destination: SocksAddress,
): Promise<Set<string> | null> {
  if (destination.type !== AddressType.Domain) {
    const zero = destination.host === "0.0.0.0" || destination.host === "::";
    return zero ? null : new Set([destination.host]);
  }
  const addresses = await network.lookup(destination.host);
  if (addresses.length === 0) {
    throw new ReplyError(
      Reply.HostUnreachable,
      `Cannot resolve ${destination.host}: it has no addresses`,
    );
  }
  return new Set(addresses.map((a) => toSocksAddress(a, 0).host));
}

async function listenForBind(
  network: Network,
  where: {
    host: string;
    fallbackHost: string;
    ports: readonly [number, number] | null;
  },
): Promise<Listener> {
  try {
    return await listenInRange(network, where.host, where.ports);
  } catch (error) {
    // An external address behind NAT is not ours to bind: listen on the
    // interface in use and advertise the external one.
    const notLocal = (error as { code?: unknown })?.code === "EADDRNOTAVAIL" ||
      (error as { name?: unknown })?.name === "AddrNotAvailable";
    if (!notLocal || where.host === where.fallbackHost) throw error;
    return await listenInRange(network, where.fallbackHost, where.ports);
  }
}

async function listenInRange(
  network: Network,
  host: string,
  ports: readonly [number, number] | null,
): Promise<Listener> {
  if (ports === null) return await network.listen({ host, port: 0 });
  const [low, high] = ports;
  const span = high - low + 1;
  // Start at a random port so concurrent BINDs do not all probe the same.
  const start = Math.floor(Math.random() * span);
  for (let i = 0; i < span; i++) {
    const address: HostPort = { host, port: low + (start + i) % span };
    try {
      return await network.listen(address);
    } catch (error) {
      const inUse = (error as { code?: unknown })?.code === "EADDRINUSE" ||
        (error as { name?: unknown })?.name === "AddrInUse";
      if (!inUse) throw error;
    }
  }
  throw new ReplyError(
    Reply.GeneralFailure,
    `Cannot listen for BIND: no free port in ${low}-${high}`,
  );
}

// Waits for the expected peer; others are turned away and waiting goes on.
async function acceptPeer(
  listener: Listener,
  wait: {
    expected: Set<string> | null;
    timeout: number;
    clientGone: Promise<void>;
    context: RequestContext;
  },
): Promise<Connection | "timeout" | "client gone"> {
  type Outcome =
    | { kind: "peer"; conn: Connection | null }
    | { kind: "timeout" }
    | { kind: "client gone" };
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<Outcome>((resolve) => {
    timer = setTimeout(() => resolve({ kind: "timeout" }), wait.timeout);
  });
  const clientGone = wait.clientGone.then((): Outcome => ({
    kind: "client gone",
  }));
  const { logger } = wait.context.server.config;
  try {
    for (;;) {
      const outcome = await Promise.race([
        listener.accept().then((conn): Outcome => ({ kind: "peer", conn })),
        timeout,
        clientGone,
      ]);
      if (outcome.kind !== "peer") return outcome.kind;
      const conn = outcome.conn;
      if (conn === null) return "client gone";
      if (
        wait.expected === null || wait.expected.has(conn.remoteAddress.host)
      ) {
        return conn;
      }
      logger.log({
        level: "info",
        msg: "bind refused a peer",
        client: wait.context.record.client,
        peer: formatHostPort(conn.remoteAddress),
      });
      conn.close();
    }
  } finally {
    clearTimeout(timer);
  }
}
