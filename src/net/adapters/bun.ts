/**
 * The Bun adapter: `Bun.listen` / `Bun.connect` behind the
 * {@linkcode Network} contract. Bun's sockets are callback-driven, so each
 * one gets a {@linkcode BunConnection} that turns its callbacks into reads
 * and writes that wait for the kernel to take the bytes.
 *
 * @module
 */

import { lookup } from "node:dns/promises";
import type { Connection, Listener, Network, Receiver } from "../connection.ts";
import type { HostPort } from "../../wire/address.ts";
import { concat } from "../../bytes.ts";
import { readDescriptorLimit } from "./_descriptor_limit.ts";
import { hostOf, Inbox } from "./_shared.ts";

// The slice of Bun's socket API this adapter uses, declared here so the
// file type-checks without Bun's types.
interface BunSocket {
  data: BunConnection | undefined;
  readonly localAddress: string;
  readonly localPort: number;
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** Bytes the kernel took; fewer than given means wait for `drain`. */
  write(bytes: Uint8Array): number;
  /** Sends FIN; reading goes on. */
  shutdown(): void;
  /** Closes at once with RST (SO_LINGER 0): bytes not yet sent are lost. */
  terminate(): void;
  /** Closes at once with close(2): the kernel still sends what it took. */
  end(): void;
  pause(): void;
  resume(): void;
}
interface Handlers {
  open(socket: BunSocket): void;
  data(socket: BunSocket, bytes: Uint8Array): void;
  drain(socket: BunSocket): void;
  end(socket: BunSocket): void;
  close(socket: BunSocket, error?: Error): void;
  error(socket: BunSocket, error: Error): void;
  connectError?(socket: BunSocket, error: Error): void;
}
interface SocketOptions {
  hostname: string;
  port: number;
  // Without it a peer's FIN closes both directions at once.
  allowHalfOpen: true;
  socket: Handlers;
  reusePort?: boolean;
}
interface BunUdpSocket {
  readonly hostname: string;
  readonly port: number;
  send(data: Uint8Array, port: number, address: string): boolean;
  close(): void;
}
interface BunApi {
  udpSocket(options: {
    hostname: string;
    port: number;
    socket: {
      data(
        socket: BunUdpSocket,
        data: Uint8Array,
        port: number,
        address: string,
      ): void;
    };
  }): Promise<BunUdpSocket>;
  listen(options: SocketOptions): {
    hostname: string;
    port: number;
    stop(closeActive?: boolean): void;
  };
  connect(options: SocketOptions): Promise<BunSocket>;
}
const Bun = (globalThis as unknown as { Bun: BunApi }).Bun;

class BunConnection implements Connection {
  // Asked for on first use: each costs two syscalls, and most connections
  // never need their local one.
  #localAddress: HostPort | null = null;
  #remoteAddress: HostPort | null = null;
  readonly inbox: Inbox;
  #socket: BunSocket;
  #unwritten: Uint8Array | null = null;
  #drained: (() => void)[] = [];
  #closed = false;
  #writeClosed = false;
  // While forwarding, chunks go straight to `to` instead of the inbox.
  #forward: {
    to: BunConnection;
    onChunk: (size: number) => void;
    settle: (error: unknown) => void;
  } | null = null;

  constructor(socket: BunSocket) {
    this.#socket = socket;
    socket.data = this;
    // No setNoDelay(): Bun turns Nagle off on every TCP socket itself.
    // The socket's pause() and resume() are the inbox's flow control.
    this.inbox = new Inbox(socket);
  }

  get localAddress(): HostPort {
    const socket = this.#socket;
    return this.#localAddress ??= {
      host: hostOf(socket.localAddress),
      port: socket.localPort,
    };
  }

  get remoteAddress(): HostPort {
    const socket = this.#socket;
    return this.#remoteAddress ??= {
      host: hostOf(socket.remoteAddress),
      port: socket.remotePort,
    };
  }

  /** The peer's address, known without asking the socket. */
  knowRemoteAddress(address: HostPort): void {
    this.#remoteAddress = address;
  }

  read(): Promise<Uint8Array | null> {
    return this.inbox.read();
  }

  receive(receiver: Receiver | null): void {
    this.inbox.deliverTo(receiver);
  }

  write(bytes: Uint8Array): Promise<void> {
    return this.#offer(bytes) ? Promise.resolve() : this.#whenDrained();
  }

  forwardTo(
    to: Connection,
    onChunk: (size: number) => void,
  ): Promise<void> | null {
    if (!(to instanceof BunConnection)) return null;
    return new Promise((resolve, reject) => {
      let settled = false;
      const settle = (error: unknown) => {
        if (settled) return;
        settled = true;
        this.#forward = null;
        error === null ? resolve() : reject(error);
      };
      // What arrived before forwarding began goes first.
      const { items, end } = this.inbox.takeQueued();
      for (const chunk of items) {
        onChunk(chunk.length);
        to.#offer(chunk);
      }
      if (end !== null) {
        if (end.error !== null) return settle(end.error);
        return void to.closeWrite().then(() => settle(null));
      }
      this.#forward = { to, onChunk, settle };
      this.#socket.resume();
    });
  }

  /** Bytes arrived: forward them, or queue them for `read()`. */
  received(bytes: Uint8Array): void {
    const forward = this.#forward;
    if (forward === null) return this.inbox.push(bytes);
    forward.onChunk(bytes.length);
    if (forward.to.#offer(bytes)) return;
    // The target's kernel buffer is full: stop reading until it drains.
    this.#socket.pause();
    void forward.to.#whenDrained().then(() => {
      if (!this.#closed) this.#socket.resume();
    });
  }

  /** The peer sent FIN. */
  finished(): void {
    const forward = this.#forward;
    if (forward === null) return this.inbox.end(null);
    void forward.to.closeWrite().then(() => forward.settle(null));
  }

  // Writes what the kernel takes now; false when some waits for `drain`.
  #offer(bytes: Uint8Array): boolean {
    if (this.#closed) return true;
    if (this.#unwritten !== null) {
      this.#unwritten = concat([this.#unwritten, bytes]);
      return false;
    }
    const taken = Math.max(this.#socket.write(bytes), 0);
    if (taken === bytes.length) return true;
    this.#unwritten = bytes.subarray(taken);
    return false;
  }

  async closeWrite(): Promise<void> {
    if (this.#unwritten !== null) await this.#whenDrained();
    if (this.#closed || this.#writeClosed) return;
    this.#writeClosed = true;
    this.#socket.shutdown();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#socket.end();
    this.ended(null);
  }

  /** The kernel can take more: write what is left. */
  drained(): void {
    if (this.#unwritten === null) return;
    const taken = Math.max(this.#socket.write(this.#unwritten), 0);
    this.#unwritten = taken === this.#unwritten.length
      ? null
      : this.#unwritten.subarray(taken);
    if (this.#unwritten === null) this.#release();
  }

  /** The socket is gone, or errored: wake every reader and writer. */
  ended(error: unknown): void {
    this.#closed ||= error !== null;
    this.inbox.end(error);
    this.#forward?.settle(error);
    this.#unwritten = null;
    this.#release();
  }

  #whenDrained(): Promise<void> {
    return new Promise((resolve) => this.#drained.push(resolve));
  }

  #release(): void {
    const waiting = this.#drained;
    this.#drained = [];
    for (const resolve of waiting) resolve();
  }
}

function handlers(onOpen: (conn: BunConnection) => void): Handlers {
  return {
    open: (socket) => onOpen(new BunConnection(socket)),
    data: (socket, bytes) => socket.data?.received(bytes),
    drain: (socket) => socket.data?.drained(),
    end: (socket) => socket.data?.finished(),
    close: (socket, error) => socket.data?.ended(error ?? null),
    error: (socket, error) => socket.data?.ended(error),
    connectError() {
      // Bun.connect() rejects with the same error; nothing to do here.
    },
  };
}

// One set for every dial: `open` leaves the connection on `socket.data`,
// so no dial needs closures of its own.
const dialHandlers = handlers(() => {});

// The peer of a dialled socket is the address dialled: each of Bun's
// address getters is a syscall.
function dialled(socket: BunSocket, address: HostPort): BunConnection {
  const conn = socket.data!;
  conn.knowRemoteAddress({ host: hostOf(address.host), port: address.port });
  return conn;
}

/**
 * Bun's network.
 *
 * @example
 * ```ts
 * import { network } from "./bun.ts";
 * const listener = await network.listen({ host: "127.0.0.1", port: 0 });
 * listener.close();
 * ```
 */
export const network: Network = {
  listen(address, options = {}) {
    const accepted = new Inbox<Connection>({ pause() {}, resume() {} });
    const server = Bun.listen({
      hostname: address.host,
      port: address.port,
      ...(options.reusePort ? { reusePort: true } : {}),
      allowHalfOpen: true,
      socket: handlers((conn) => accepted.push(conn)),
    });
    const listener: Listener = {
      address: { host: hostOf(server.hostname), port: server.port },
      accept: () => accepted.read(),
      close() {
        // false: stop listening but leave accepted clients to the server.
        server.stop(false);
        accepted.end(null);
      },
    };
    return Promise.resolve(listener);
  },
  async connect(options) {
    const { signal } = options;
    signal?.throwIfAborted();
    const connecting = Bun.connect({
      hostname: options.host,
      port: options.port,
      allowHalfOpen: true,
      socket: dialHandlers,
    });
    if (signal === undefined) return dialled(await connecting, options);
    // Bun.connect takes no signal: give up waiting, and close a late socket.
    let onAbort!: () => void;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => {
        reject(signal.reason);
        connecting.then((socket) => socket.terminate(), () => {});
      };
      signal.addEventListener("abort", onAbort);
    });
    try {
      return dialled(await Promise.race([connecting, aborted]), options);
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
  },
  async lookup(name) {
    const found = await lookup(name, { all: true, verbatim: true });
    return found.map((entry) => entry.address);
  },
  async bindUdp(address, onDatagram) {
    const socket = await Bun.udpSocket({
      hostname: address.host,
      port: address.port,
      socket: {
        data(_socket, data, port, host) {
          onDatagram({ data, host: hostOf(host), port });
        },
      },
    });
    let closed = false;
    return {
      address: { host: hostOf(socket.hostname), port: socket.port },
      send({ data, host, port }) {
        // false means the kernel dropped it: UDP's usual loss.
        if (!closed) socket.send(data, port, host);
      },
      close() {
        if (closed) return;
        closed = true;
        socket.close();
      },
    };
  },
  descriptorLimit: readDescriptorLimit,
};
