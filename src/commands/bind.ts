/**
 * BIND (RFC 1928 §4–6): listen for one connection from the far side of a
 * protocol such as active FTP, with two replies — the listening address,
 * then the peer that connected — and relay. As in the gateway this server
 * descends from, only a client that holds a CONNECT session may BIND.
 *
 * @module
 */

import type { Connection, Listener, Network } from "../connection.ts";
import { ReplyError, replyForError } from "../dial_error.ts";
import { relay } from "../relay.ts";
import type { CommandHandler, RequestContext } from "../serve_connection.ts";
import { sendReply } from "../serve_connection.ts";
import {
  formatHostPort,
  type HostPort,
  type SocksAddress,
  toSocksAddress,
} from "../wire/address.ts";
import { AddressType, Reply } from "../wire/constants.ts";

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
    client: client.remoteAddress.host,
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
  const sessionHost = sessions.outboundHost(client.remoteAddress.host, user);
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
    // Watch the client while waiting, so a client that leaves frees the
    // port at once; its chunk, if it sends one early, is relayed first.
    const clientRead = client.read();
    clientRead.catch(() => {});
    const outcome = await acceptPeer(listener, {
      expected,
      timeout: config.bindTimeout,
      clientRead,
      context,
    });
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
    await relayToPeer(context, outcome, clientRead);
  } finally {
    listener.close();
  }
};

async function relayToPeer(
  context: RequestContext,
  peer: Connection,
  clientRead: Promise<Uint8Array | null>,
): Promise<void> {
  const { client, scope, record, server } = context;
  scope.adopt(peer);
  try {
    record.remote = formatHostPort(peer.remoteAddress);
    const { host, port } = peer.remoteAddress;
    await sendReply(context, {
      reply: Reply.Succeeded,
      bound: toSocksAddress(host, port),
    });
    scope.relaying();
    // Bytes a pipelining client sent right after the request come first.
    const { leftover } = context;
    if (leftover.length > 0) await peer.write(leftover);
    const result = await relay(client, peer, {
      idleTimeout: server.config.idleTimeout,
      clientRead,
    });
    record.up = leftover.length + result.up;
    record.down = result.down;
    record.end = result.end;
  } finally {
    peer.close();
  }
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
    clientRead: Promise<Uint8Array | null>;
    context: RequestContext;
  },
): Promise<Connection | "timeout" | "client gone"> {
  type Outcome =
    | { kind: "peer"; conn: Connection | null }
    | { kind: "timeout" }
    | { kind: "client"; gone: boolean };
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<Outcome>((resolve) => {
    timer = setTimeout(() => resolve({ kind: "timeout" }), wait.timeout);
  });
  let watchClient: Promise<Outcome> | null = wait.clientRead.then(
    (chunk) => ({ kind: "client", gone: chunk === null }),
    () => ({ kind: "client", gone: true }),
  );
  const { logger } = wait.context.server.config;
  try {
    let accepting = listener.accept();
    for (;;) {
      const outcome = await Promise.race([
        accepting.then((conn): Outcome => ({ kind: "peer", conn })),
        timeout,
        ...(watchClient === null ? [] : [watchClient]),
      ]);
      if (outcome.kind === "timeout") return "timeout";
      if (outcome.kind === "client") {
        if (outcome.gone) return "client gone";
        watchClient = null; // early data: keep it for the relay, stop watching
        continue;
      }
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
      accepting = listener.accept();
    }
  } finally {
    clearTimeout(timer);
  }
}
