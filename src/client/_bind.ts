/**
 * BIND through a SOCKS5 proxy (RFC 1928 §4) over whichever network the
 * entry point picks: the proxy listens for one incoming connection from
 * the expected peer and replies twice, first with where it listens, then
 * with who connected.
 *
 * @module
 */

import type { HostPort, SocksAddress } from "../wire/address.ts";
import { Command } from "../wire/constants.ts";
import { deadline } from "./_abort.ts";
import { destinationOf, proxyOf } from "./_args.ts";
import { connectionTransport, negotiate, withLeftover } from "./negotiate.ts";
import { type SocksConnection, socksConnection } from "./socks_connection.ts";
import {
  type ConnectOptions,
  DEFAULT_TIMEOUT,
  networkOf,
  type WithDefaultNetwork,
} from "./options.ts";
import { openTunnel } from "./tunnel.ts";
import type { ProxyOptions } from "./url.ts";

/**
 * A BIND the proxy has answered once.
 *
 * @example
 * ```ts
 * import type { SocksBind } from "./_bind.ts";
 * async function serveOne(bind: SocksBind) {
 *   console.log(`tell the peer to connect to ${bind.bound.host}:${bind.bound.port}`);
 *   const tunnel = await bind.accepted;
 *   console.log(`${tunnel.bound.host} connected`);
 *   tunnel.close();
 * }
 * ```
 */
export interface SocksBind {
  /** BND of the first reply: where the proxy listens for the peer. */
  readonly bound: SocksAddress;
  /**
   * The second reply and the tunnel to the peer; its `bound` is the peer's
   * address. Rejects with a `SocksReplyError` when the proxy gives up
   * (its own timeout, a peer it does not expect), or when the BIND is
   * closed or its signal aborts first.
   */
  readonly accepted: Promise<SocksConnection>;
  /**
   * Gives up: closes the connection to the proxy (and so the tunnel, once
   * accepted). Idempotent.
   */
  close(): void;
}

/**
 * `bind()` with the network `options` give or default to.
 *
 * @example
 * ```ts
 * import { openBind } from "./_bind.ts";
 * import { runtimeNetwork } from "../net/runtime_network.ts";
 * const listening = await openBind("socks5h://127.0.0.1:1080", "0.0.0.0:0", {
 *   defaultNetwork: runtimeNetwork,
 * });
 * listening.close();
 * ```
 */
export async function openBind(
  proxy: string | ProxyOptions,
  destination: string | HostPort,
  options: WithDefaultNetwork<ConnectOptions>,
): Promise<SocksBind> {
  const proxyOptions = proxyOf(proxy);
  const target = destinationOf(destination);
  const network = await networkOf(options);
  const limit = deadline(
    { signal: options.signal, timeout: options.timeout ?? DEFAULT_TIMEOUT },
    `the SOCKS5 BIND with ${proxyOptions.host}`,
  );
  let tunnel;
  try {
    tunnel = await openTunnel(network, proxyOptions, {
      command: Command.Bind,
      destination: target,
      signal: limit.signal,
    });
  } finally {
    limit.clear();
  }
  const { connection, handshake, outcome } = tunnel;
  const waiting = deadline({ signal: options.signal }, "the SOCKS5 BIND");
  const accepted = negotiate(connectionTransport(connection), handshake, {
    from: handshake.receive(new Uint8Array(0)),
    signal: waiting.signal,
  }).then(
    (second) => {
      const leftover = second.type === "established"
        ? second.leftover
        : new Uint8Array(0);
      return socksConnection(
        withLeftover(connection, leftover),
        second.reply.bound,
      );
    },
    (error: unknown) => {
      connection.close();
      throw error;
    },
  ).finally(() => waiting.clear());
  // A caller that only wanted the first reply and closes must not get an
  // unhandled rejection; one that awaits `accepted` still sees it.
  accepted.catch(() => {});
  return {
    bound: outcome.reply.bound,
    accepted,
    close() {
      waiting.abort(
        new Error("Cannot accept a connection: the BIND was closed"),
      );
      connection.close();
    },
  };
}
