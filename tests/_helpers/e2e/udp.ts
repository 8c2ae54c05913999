/**
 * UDP on loopback for UDP ASSOCIATE tests: sockets that keep what they
 * receive with bounded waits, an echo server, the association opened with
 * the `socks` npm client, and its UDP frames (RFC 1928 §7).
 *
 * @module
 */

import { Buffer } from "node:buffer";
import * as dgram from "node:dgram";
import { SocksClient } from "socks";
import { openSocket, RawSocket } from "./raw_socket.ts";
import { canonicalHost, type Credentials, type Endpoint } from "./socks_raw.ts";
import { withTimeout } from "./with_timeout.ts";

/**
 * One datagram and where it came from.
 *
 * @example
 * ```ts
 * import type { Received } from "./udp.ts";
 * const received: Received = { data: new Uint8Array([1]), host: "127.0.0.1", port: 9 };
 * ```
 */
export interface Received extends Endpoint {
  /** The payload. */
  data: Uint8Array;
}

/**
 * A bound UDP socket that keeps every datagram it receives.
 *
 * @example
 * ```ts
 * import { UdpPeer } from "./udp.ts";
 * const a = await UdpPeer.bind("127.0.0.1");
 * const b = await UdpPeer.bind("127.0.0.1");
 * await a.send(new Uint8Array([1]), b);
 * console.log((await b.next(1_000)).data); // Uint8Array(1) [ 1 ]
 * await a.close();
 * await b.close();
 * ```
 */
export class UdpPeer implements Endpoint {
  /** The bound address. */
  readonly host: string;
  /** The bound port. */
  readonly port: number;
  /** Every datagram received so far, in order. */
  readonly received: Received[] = [];
  #socket: dgram.Socket;
  #read = 0;
  #wake: (() => void)[] = [];
  #closed = false;

  private constructor(socket: dgram.Socket, onMessage?: OnMessage) {
    this.#socket = socket;
    const { address, port } = socket.address();
    this.host = address;
    this.port = port;
    socket.on("message", (message: Buffer, remote: dgram.RemoteInfo) => {
      const received = {
        data: new Uint8Array(message),
        host: remote.address,
        port: remote.port,
      };
      this.received.push(received);
      onMessage?.(received, this);
      const wake = this.#wake;
      this.#wake = [];
      for (const resolve of wake) resolve();
    });
  }

  /**
   * Binds `host:port` (port 0: any free one); `onMessage` sees each
   * datagram as it arrives.
   */
  static async bind(
    host: string,
    port = 0,
    onMessage?: OnMessage,
  ): Promise<UdpPeer> {
    const socket = dgram.createSocket(host.includes(":") ? "udp6" : "udp4");
    try {
      await withTimeout(
        new Promise<void>((resolve, reject) => {
          socket.once("error", reject);
          socket.bind(port, host, () => {
            socket.off("error", reject);
            resolve();
          });
        }),
        5_000,
        `binding UDP ${host}:${port}`,
      );
    } catch (error) {
      socket.close();
      throw error;
    }
    // ICMP port unreachable and the like: UDP's usual loss, not a failure.
    socket.on("error", () => {});
    return new UdpPeer(socket, onMessage);
  }

  /** Sends one datagram; resolves once the runtime has taken it. */
  send(data: Uint8Array, to: Endpoint): Promise<void> {
    return withTimeout(
      new Promise<void>((resolve, reject) => {
        this.#socket.send(
          data,
          to.port,
          to.host,
          (error) => error ? reject(error) : resolve(),
        );
      }),
      5_000,
      `sending ${data.length} bytes to ${to.host}:${to.port}`,
    );
  }

  /** The next datagram not yet taken; rejects after `ms`. */
  async next(ms: number): Promise<Received> {
    await this.waitForCount(this.#read + 1, ms);
    const received = this.received[this.#read];
    if (received === undefined) {
      throw new Error(
        `Timed out after ${ms} ms: a datagram on ${this.host}:${this.port}`,
      );
    }
    this.#read++;
    return received;
  }

  /** Resolves after `ms`; rejects if a datagram arrives meanwhile. */
  async silence(ms: number): Promise<void> {
    const before = this.received.length;
    await this.waitForCount(before + 1, ms);
    const extra = this.received[before];
    if (extra !== undefined) {
      throw new Error(
        `Expected no datagram on ${this.host}:${this.port} for ${ms} ms, got ${extra.data.length} bytes from ${extra.host}:${extra.port}`,
      );
    }
  }

  /**
   * Waits until `count` datagrams have arrived in all, or `ms` passed;
   * resolves with how many did.
   */
  async waitForCount(count: number, ms: number): Promise<number> {
    const deadline = Date.now() + ms;
    // Bounded by the deadline: each turn waits for a datagram or the rest.
    while (this.received.length < count && !this.#closed) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#wake.push(resolve);
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
    }
    return this.received.length;
  }

  /** Closes the socket. Idempotent. */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    return withTimeout(
      new Promise<void>((resolve) => this.#socket.close(() => resolve())),
      5_000,
      `closing UDP ${this.host}:${this.port}`,
    );
  }
}

/**
 * Called with each datagram a {@linkcode UdpPeer} receives.
 *
 * @example
 * ```ts
 * import type { OnMessage } from "./udp.ts";
 * const log: OnMessage = (received) => console.log(received.data.length);
 * ```
 */
export type OnMessage = (received: Received, peer: UdpPeer) => void;

/**
 * A UDP echo server on `host`: sends every datagram back to its sender.
 * Its `received` list tells where datagrams came from.
 *
 * @example
 * ```ts
 * import { startUdpEcho } from "./udp.ts";
 * const echo = await startUdpEcho("127.0.0.1");
 * console.log(echo.port > 0); // true
 * await echo.close();
 * ```
 */
export function startUdpEcho(host: string): Promise<UdpPeer> {
  return UdpPeer.bind(host, 0, (received, peer) => {
    peer.send(received.data, received).catch(() => {});
  });
}

/**
 * An open association: the TCP control connection (it lives as long as the
 * association) and the relay's UDP address.
 *
 * @example
 * ```ts
 * import type { Association } from "./udp.ts";
 * function relayText(association: Association): string {
 *   return `${association.relay.host}:${association.relay.port}`;
 * }
 * ```
 */
export interface Association {
  /** The control connection. */
  control: RawSocket;
  /** BND.ADDR:BND.PORT of the reply: where to send frames. */
  relay: Endpoint;
}

/**
 * UDP ASSOCIATE with the `socks` client (`new SocksClient(…).connect()`
 * and its `established` event); `from` is the DST.ADDR:DST.PORT sent: where
 * the client will send from, often 0.0.0.0:0.
 *
 * @example
 * ```ts
 * import { socksAssociate } from "./udp.ts";
 * async function open(proxyPort: number) {
 *   const { control, relay } = await socksAssociate(
 *     { host: "127.0.0.1", port: proxyPort },
 *     { host: "0.0.0.0", port: 0 },
 *   );
 *   control.destroy();
 *   return relay.port;
 * }
 * ```
 */
export async function socksAssociate(
  proxy: Endpoint,
  from: Endpoint,
  credentials?: Credentials,
): Promise<Association> {
  // Connected here and handed to the client, so a failed handshake
  // cannot leave it open.
  const socket = await openSocket(
    { host: proxy.host, port: proxy.port },
    `connecting to the proxy at ${proxy.host}:${proxy.port}`,
  );
  try {
    const client = new SocksClient({
      proxy: {
        host: proxy.host,
        port: proxy.port,
        type: 5,
        ...(credentials === undefined ? {} : {
          userId: credentials.username,
          password: credentials.password,
        }),
      },
      command: "associate",
      destination: from,
      timeout: 5_000,
    });
    const established = new Promise<Association>((resolve, reject) => {
      client.once("established", (info) => {
        resolve({
          control: new RawSocket(info.socket),
          relay: {
            host: canonicalHost(info.remoteHost!.host),
            port: info.remoteHost!.port,
          },
        });
      });
      client.once("error", reject);
    });
    client.connect(socket);
    return await withTimeout(established, 6_000, "the UDP ASSOCIATE reply");
  } catch (error) {
    socket.destroy();
    throw error;
  }
}

/**
 * A SOCKS UDP frame (`RSV RSV FRAG ATYP DST.ADDR DST.PORT DATA`) built by
 * the `socks` client's `SocksClient.createUDPFrame`.
 *
 * @example
 * ```ts
 * import { udpFrame } from "./udp.ts";
 * const frame = udpFrame({ host: "127.0.0.1", port: 53 }, new Uint8Array([7]));
 * console.log(frame.length); // 11
 * ```
 */
export function udpFrame(
  destination: Endpoint,
  data: Uint8Array,
  frag = 0,
): Uint8Array {
  const frame = SocksClient.createUDPFrame({
    remoteHost: { host: destination.host, port: destination.port },
    data: Buffer.from(data),
    frameNumber: frag,
  });
  return new Uint8Array(frame);
}

/**
 * A frame taken apart by `SocksClient.parseUDPFrame`, its address in
 * canonical form.
 *
 * @example
 * ```ts
 * import { parseFrame, udpFrame } from "./udp.ts";
 * const frame = parseFrame(udpFrame({ host: "::1", port: 9 }, new Uint8Array([1])));
 * console.log(frame.host, frame.port); // "::1" 9
 * ```
 */
export function parseFrame(
  bytes: Uint8Array,
): Received & { frag: number } {
  const frame = SocksClient.parseUDPFrame(Buffer.from(bytes));
  return {
    frag: frame.frameNumber ?? 0,
    host: canonicalHost(frame.remoteHost.host),
    port: frame.remoteHost.port,
    data: new Uint8Array(frame.data),
  };
}
