/**
 * The UDP side of a UDP ASSOCIATE (RFC 1928 §7): one socket faces the
 * client and carries SOCKS-wrapped datagrams; outbound sockets, one per
 * address family, talk to the destinations. Runtime-neutral: the sockets
 * come from the {@linkcode Network}.
 *
 * @module
 */

import type { Datagram, Network, UdpSocket } from "./connection.ts";
import { type HostPort, toSocksAddress } from "../wire/address.ts";
import { AddressType } from "../wire/constants.ts";
import { decodeUdpDatagram, encodeUdpDatagram } from "../wire/udp_datagram.ts";

/**
 * Counts of one association, for the access log.
 *
 * @example
 * ```ts
 * import type { UdpCounts } from "./udp_relay.ts";
 * const counts: UdpCounts = { up: 0, down: 0, datagramsUp: 0, datagramsDown: 0, dropped: 0 };
 * ```
 */
export interface UdpCounts {
  /** Payload bytes from the client to destinations. */
  up: number;
  /** Payload bytes from destinations to the client. */
  down: number;
  /** Datagrams relayed to destinations. */
  datagramsUp: number;
  /** Datagrams relayed to the client. */
  datagramsDown: number;
  /** Datagrams dropped: wrong sender, FRAG ≠ 0, malformed, unresolvable. */
  dropped: number;
}

/**
 * Where an association takes datagrams from.
 *
 * @example
 * ```ts
 * import type { UdpClient } from "./udp_relay.ts";
 * const client: UdpClient = { ip: "127.0.0.1", port: null };
 * ```
 */
export interface UdpClient {
  /** The control connection's client IP address: the only accepted source. */
  ip: string;
  /** Enforced source port, or `null` for any. */
  port: number | null;
}

/**
 * Whether a datagram may go to `address` (resolved from `name` when the
 * client gave one) and `port`: the access rules.
 *
 * @example
 * ```ts
 * import type { UdpPermit } from "./udp_relay.ts";
 * const permit: UdpPermit = ({ port }) => port !== 25;
 * ```
 */
export type UdpPermit = (
  target: { name: string | null; address: string; port: number },
) => boolean;

// Destinations the client has sent to, remembered so that only they may
// answer (a port-restricted cone); bounded so a scanning client cannot
// grow it without end.
const MAX_PEERS = 4096;
const MAX_NAMES = 256;

/**
 * One association: relays until {@linkcode UdpRelay.close}.
 *
 * @example
 * ```ts
 * import { UdpRelay } from "./udp_relay.ts";
 * import type { Network } from "./connection.ts";
 * async function open(network: Network) {
 *   const relay = await UdpRelay.open(network, {
 *     bindHost: "127.0.0.1",
 *     client: { ip: "127.0.0.1", port: null },
 *     permit: ({ port }) => port !== 25,
 *   });
 *   relay.close();
 * }
 * ```
 */
export class UdpRelay {
  /** What went through so far. */
  readonly counts: UdpCounts = {
    up: 0,
    down: 0,
    datagramsUp: 0,
    datagramsDown: 0,
    dropped: 0,
  };
  #network: Network;
  #client: UdpClient;
  #permit: UdpPermit;
  #clientSocket!: UdpSocket;
  #clientAddress: HostPort | null = null;
  #outbound = new Map<"v4" | "v6", Promise<UdpSocket>>();
  #peers = new Set<string>();
  #names = new Map<string, Promise<string | null>>();
  #closed = false;

  private constructor(
    network: Network,
    options: { client: UdpClient; permit: UdpPermit },
  ) {
    this.#network = network;
    this.#client = options.client;
    this.#permit = options.permit;
  }

  /** Binds the client-facing socket on `bindHost`, any free port. */
  static async open(
    network: Network,
    options: { bindHost: string; client: UdpClient; permit?: UdpPermit },
  ): Promise<UdpRelay> {
    const relay = new UdpRelay(network, {
      client: options.client,
      permit: options.permit ?? (() => true),
    });
    relay.#clientSocket = await network.bindUdp(
      { host: options.bindHost, port: 0 },
      (datagram) => relay.#fromClient(datagram),
    );
    return relay;
  }

  /** The client-facing socket's address. */
  get address(): HostPort {
    return this.#clientSocket.address;
  }

  /** Closes every socket of the association. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#clientSocket.close();
    for (const socket of this.#outbound.values()) {
      socket.then((s) => s.close(), () => {});
    }
  }

  #fromClient(datagram: Datagram): void {
    const { ip, port } = this.#client;
    const decoded = decodeUdpDatagram(datagram.data);
    if (
      datagram.host !== ip || (port !== null && datagram.port !== port) ||
      decoded.status !== "done" || decoded.value.frag !== 0
    ) {
      this.counts.dropped++;
      return;
    }
    this.#clientAddress = { host: datagram.host, port: datagram.port };
    const { destination, data } = decoded.value;
    const host = destination.type === AddressType.Domain
      ? this.#resolve(destination.host)
      : Promise.resolve(destination.host);
    const name = destination.type === AddressType.Domain
      ? destination.host
      : null;
    host.then(async (address) => {
      if (
        address === null || this.#closed ||
        !this.#permit({ name, address, port: destination.port })
      ) {
        this.counts.dropped++;
        return;
      }
      const socket = await this.#outboundFor(address);
      if (this.#peers.size < MAX_PEERS) {
        this.#peers.add(peerKey(address, destination.port));
      }
      this.counts.up += data.length;
      this.counts.datagramsUp++;
      socket.send({ data, host: address, port: destination.port });
    }).catch(() => this.counts.dropped++);
  }

  #fromDestination(datagram: Datagram): void {
    const client = this.#clientAddress;
    if (
      this.#closed || client === null ||
      !this.#peers.has(peerKey(datagram.host, datagram.port))
    ) {
      this.counts.dropped++;
      return;
    }
    this.counts.down += datagram.data.length;
    this.counts.datagramsDown++;
    this.#clientSocket.send({
      data: encodeUdpDatagram({
        frag: 0,
        destination: toSocksAddress(datagram.host, datagram.port),
        data: datagram.data,
      }),
      ...client,
    });
  }

  #outboundFor(address: string): Promise<UdpSocket> {
    const family = address.includes(":") ? "v6" : "v4";
    let socket = this.#outbound.get(family);
    if (socket === undefined) {
      socket = this.#network.bindUdp(
        { host: family === "v6" ? "::" : "0.0.0.0", port: 0 },
        (datagram) => this.#fromDestination(datagram),
      );
      this.#outbound.set(family, socket);
      // Closed meanwhile: free the port as soon as it is bound.
      socket.then((s) => this.#closed && s.close(), () => {});
    }
    return socket;
  }

  // Names resolve once per association: a client sending a stream of
  // datagrams to one name costs one lookup.
  #resolve(name: string): Promise<string | null> {
    let address = this.#names.get(name);
    if (address === undefined) {
      address = this.#network.lookup(name).then(
        (found) =>
          found[0] === undefined ? null : toSocksAddress(found[0], 0).host,
        () => null,
      );
      if (this.#names.size < MAX_NAMES) this.#names.set(name, address);
    }
    return address;
  }
}

function peerKey(host: string, port: number): string {
  return `${host}|${port}`;
}
