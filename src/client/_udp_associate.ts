/**
 * UDP ASSOCIATE through a SOCKS5 proxy (RFC 1928 §7): datagrams to and
 * from any destination go through the proxy's UDP relay, wrapped in the
 * SOCKS UDP header, for as long as the TCP control connection lives.
 *
 * @module
 */

import type { Datagram, UdpSocket } from "../net/connection.ts";
import { type HostPort, toSocksAddress } from "../wire/address.ts";
import { Command } from "../wire/constants.ts";
import { decodeUdpDatagram, encodeUdpDatagram } from "../wire/udp_datagram.ts";
import { deadline } from "./_abort.ts";
import { destinationOf, proxyOf } from "./_args.ts";
import { ClientHandshake } from "./handshake.ts";
import { connectionTransport, negotiate } from "./negotiate.ts";
import {
  type ConnectOptions,
  DEFAULT_TIMEOUT,
  networkOf,
  type WithDefaultNetwork,
} from "./options.ts";
import { dialProxy, requestAddress } from "./tunnel.ts";
import type { ProxyOptions } from "./url.ts";

/**
 * Options of {@linkcode udpAssociate}.
 *
 * @example
 * ```ts
 * import type { UdpAssociateOptions } from "./_udp_associate.ts";
 * const options: UdpAssociateOptions = { timeout: 5_000, queueSize: 64 };
 * ```
 */
export interface UdpAssociateOptions extends ConnectOptions {
  /**
   * Received datagrams held until the iterator takes them; more are
   * dropped, as a full socket buffer drops them. Default 256.
   */
  queueSize?: number;
}

/**
 * An open association. Iterate it for received datagrams, each with the
 * address of the destination that sent it; iteration ends when the
 * association closes.
 *
 * @example
 * ```ts
 * import type { SocksUdpAssociation } from "./_udp_associate.ts";
 * async function ask(udp: SocksUdpAssociation) {
 *   await udp.send(new TextEncoder().encode("ping"), "127.0.0.1:7");
 *   for await (const datagram of udp) {
 *     console.log(datagram.host, datagram.port, datagram.data);
 *     break; // stops iterating; udp.close() ends the association
 *   }
 *   udp.close();
 * }
 * ```
 */
export interface SocksUdpAssociation extends AsyncIterable<Datagram> {
  /** The proxy's relay, where datagrams go and the only sender accepted. */
  readonly relay: HostPort;
  /** This end's UDP socket. */
  readonly address: HostPort;
  /** Datagrams dropped: from elsewhere, malformed, fragments, queue full. */
  readonly dropped: number;
  /** Settles when the association ends: `close()`, or the proxy closing. */
  readonly closed: Promise<void>;
  /**
   * Sends one datagram to `destination` through the relay. Names are
   * resolved as the proxy options say. Rejects once closed.
   */
  send(data: Uint8Array, destination: string | HostPort): Promise<void>;
  /** Ends the association: closes the UDP socket and the control connection. */
  close(): void;
}

const DEFAULT_QUEUE = 256;

/**
 * `udpAssociate()` with the network `options` give or default to.
 *
 * @example
 * ```ts
 * import { openUdpAssociation } from "./_udp_associate.ts";
 * import { runtimeNetwork } from "../net/runtime_network.ts";
 * const udp = await openUdpAssociation("socks5h://127.0.0.1:1080", {
 *   defaultNetwork: runtimeNetwork,
 * });
 * udp.close();
 * ```
 */
export async function openUdpAssociation(
  proxy: string | ProxyOptions,
  options: WithDefaultNetwork<UdpAssociateOptions>,
): Promise<SocksUdpAssociation> {
  const proxyOptions = proxyOf(proxy);
  const network = await networkOf(options);
  const queue = new DatagramQueue(options.queueSize ?? DEFAULT_QUEUE);
  const limit = deadline(
    { signal: options.signal, timeout: options.timeout ?? DEFAULT_TIMEOUT },
    `the SOCKS5 UDP ASSOCIATE with ${proxyOptions.host}`,
  );
  let relay: HostPort | null = null;
  const onDatagram = (datagram: Datagram) => {
    const from = relay;
    if (
      from === null || datagram.port !== from.port ||
      toSocksAddress(datagram.host, 0).host !== from.host
    ) {
      return queue.drop();
    }
    const decoded = decodeUdpDatagram(datagram.data);
    // RFC 1928 §7: a client that does not reassemble drops fragments.
    if (decoded.status !== "done" || decoded.value.frag !== 0) {
      return queue.drop();
    }
    const { destination, data } = decoded.value;
    queue.push({ data, host: destination.host, port: destination.port });
  };
  let control;
  let udp: UdpSocket | undefined;
  try {
    control = await dialProxy(network, proxyOptions, {
      signal: limit.signal,
    });
    try {
      udp = await network.bindUdp(
        { host: control.localAddress.host, port: 0 },
        onDatagram,
      );
      const handshake = new ClientHandshake({
        command: Command.UdpAssociate,
        destination: toSocksAddress(udp.address.host, udp.address.port),
        ...(proxyOptions.credentials
          ? { credentials: proxyOptions.credentials }
          : {}),
      });
      const { reply } = await negotiate(
        connectionTransport(control),
        handshake,
        { signal: limit.signal },
      );
      const unspecified = reply.bound.host === "0.0.0.0" ||
        reply.bound.host === "::";
      relay = {
        host: unspecified ? control.remoteAddress.host : reply.bound.host,
        port: reply.bound.port,
      };
    } catch (error) {
      udp?.close();
      control.close();
      throw error;
    }
  } finally {
    limit.clear();
  }
  const relayAddress = relay;
  const socket = udp;
  const connection = control;
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    socket.close();
    connection.close();
    queue.end();
  };
  // RFC 1928 §7: the association lives as long as its TCP connection;
  // anything the proxy sends on it means nothing.
  const closed = (async () => {
    try {
      while (await connection.read() !== null);
    } catch {
      // A reset ends the association like a close.
    } finally {
      end();
    }
  })();
  return {
    relay: relayAddress,
    address: socket.address,
    get dropped() {
      return queue.dropped;
    },
    closed,
    async send(data, destination) {
      if (ended) throw new Error("Cannot send: the association is closed");
      const address = await requestAddress(
        network,
        proxyOptions,
        destinationOf(destination),
      );
      if (ended) throw new Error("Cannot send: the association is closed");
      socket.send({
        data: encodeUdpDatagram({ frag: 0, destination: address, data }),
        ...relayAddress,
      });
    },
    close: end,
    [Symbol.asyncIterator]: () => queue.iterator(),
  };
}

// Received datagrams waiting for the iterator, bounded.
class DatagramQueue {
  dropped = 0;
  readonly #limit: number;
  #items: Datagram[] = [];
  #waiters: ((result: IteratorResult<Datagram>) => void)[] = [];
  #ended = false;

  constructor(limit: number) {
    if (!Number.isInteger(limit) || limit < 1) {
      throw new RangeError(
        `Invalid option queueSize: ${limit} is not a positive integer`,
      );
    }
    this.#limit = limit;
  }

  push(datagram: Datagram): void {
    if (this.#ended) return;
    const waiter = this.#waiters.shift();
    if (waiter !== undefined) waiter({ value: datagram, done: false });
    else if (this.#items.length < this.#limit) this.#items.push(datagram);
    else this.dropped++;
  }

  drop(): void {
    this.dropped++;
  }

  end(): void {
    this.#ended = true;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) waiter({ value: undefined, done: true });
  }

  iterator(): AsyncIterator<Datagram> {
    return {
      next: () => {
        const item = this.#items.shift();
        if (item !== undefined) {
          return Promise.resolve({ value: item, done: false });
        }
        if (this.#ended) {
          return Promise.resolve({ value: undefined, done: true });
        }
        return new Promise((resolve) => this.#waiters.push(resolve));
      },
      return: () => Promise.resolve({ value: undefined, done: true }),
    };
  }
}
