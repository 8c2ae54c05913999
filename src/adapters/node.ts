/**
 * The Node adapter: `node:net` sockets and `node:dns` lookups behind the
 * {@linkcode Network} contract.
 *
 * @module
 */

import { lookup } from "node:dns/promises";
import * as net from "node:net";
import type {
  Connection,
  DialOptions,
  Listener,
  Network,
} from "../connection.ts";
import type { HostPort } from "../wire/address.ts";
import { bindDgram } from "./_dgram.ts";
import { hostOf, Inbox } from "./_shared.ts";

// Listeners are shared by every socket and find their connection through
// this key: a tunnel holds thousands of sockets, and a closure per
// listener per socket would cost each of them a few hundred bytes.
const connectionKey = Symbol("connection");
type KeyedSocket = net.Socket & { [connectionKey]: NodeConnection };

function onData(this: KeyedSocket, chunk: Uint8Array): void {
  this[connectionKey].inbox.push(chunk);
}
function onEnd(this: KeyedSocket): void {
  this[connectionKey].inbox.end(null);
}
function onError(this: KeyedSocket, error: Error): void {
  this[connectionKey].inbox.end(error);
}
function onDrain(this: KeyedSocket): void {
  this[connectionKey].release();
}
function onClose(this: KeyedSocket): void {
  this[connectionKey].inbox.end(null);
  this[connectionKey].release();
}

class NodeConnection implements Connection {
  // Asked for on first use: each costs a syscall, and most connections
  // never need their local one.
  #localAddress: HostPort | null = null;
  #remoteAddress: HostPort | null = null;
  // The socket's pause() and resume() are the inbox's flow control.
  readonly inbox: Inbox;
  #socket: net.Socket;
  #drained: (() => void)[] = [];

  constructor(socket: net.Socket) {
    this.#socket = socket;
    (socket as KeyedSocket)[connectionKey] = this;
    this.inbox = new Inbox(socket);
    // Nagle off: SOCKS carries interactive protocols, and the relay already
    // writes whole chunks.
    socket.setNoDelay(true);
    socket.on("data", onData);
    socket.on("end", onEnd);
    socket.on("error", onError);
    socket.on("drain", onDrain);
    socket.on("close", onClose);
  }

  get localAddress(): HostPort {
    const socket = this.#socket;
    return this.#localAddress ??= addressOf(
      socket.localAddress,
      socket.localPort,
    );
  }

  get remoteAddress(): HostPort {
    const socket = this.#socket;
    return this.#remoteAddress ??= addressOf(
      socket.remoteAddress,
      socket.remotePort,
    );
  }

  read(): Promise<Uint8Array | null> {
    return this.inbox.read();
  }

  write(bytes: Uint8Array): Promise<void> {
    const socket = this.#socket;
    if (socket.destroyed || socket.write(bytes)) return Promise.resolve();
    return new Promise((resolve) => this.#drained.push(resolve));
  }

  closeWrite(): Promise<void> {
    const socket = this.#socket;
    if (socket.destroyed || socket.writableEnded) return Promise.resolve();
    return new Promise((resolve) => {
      socket.end(resolve);
      socket.once("close", resolve);
    });
  }

  close(): void {
    this.#socket.destroy();
    this.inbox.end(null);
  }

  /** The socket drained or closed: wake every waiting writer. */
  release(): void {
    const waiting = this.#drained;
    if (waiting.length === 0) return;
    this.#drained = [];
    for (const resolve of waiting) resolve();
  }
}

function addressOf(host: string | undefined, port: number | undefined) {
  return { host: hostOf(host), port: port ?? 0 };
}

async function listen(address: HostPort): Promise<Listener> {
  const server = net.createServer({
    allowHalfOpen: true,
    pauseOnConnect: true,
  });
  const accepted = new Inbox<Connection>({ pause() {}, resume() {} });
  server.on(
    "connection",
    (socket) => accepted.push(new NodeConnection(socket)),
  );
  server.on("error", (error) => accepted.end(error));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host: address.host, port: address.port }, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const bound = server.address() as net.AddressInfo;
  return {
    address: { host: hostOf(bound.address), port: bound.port },
    accept: () => accepted.read(),
    close() {
      server.close();
      accepted.end(null);
    },
  };
}

function connect(options: DialOptions): Promise<Connection> {
  const { host, port, signal } = options;
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const socket = net.connect({ host, port, allowHalfOpen: true });
    socket.pause();
    const onAbort = () => socket.destroy(signal!.reason as Error);
    signal?.addEventListener("abort", onAbort);
    const settle = () => {
      signal?.removeEventListener("abort", onAbort);
      socket.off("error", onError);
    };
    const onError = (error: Error) => {
      settle();
      reject(error);
    };
    socket.once("error", onError);
    socket.once("connect", () => {
      settle();
      resolve(new NodeConnection(socket));
    });
  });
}

/**
 * Node's network.
 *
 * @example
 * ```ts
 * import { network } from "./node.ts";
 * const listener = await network.listen({ host: "127.0.0.1", port: 0 });
 * listener.close();
 * ```
 */
export const network: Network = {
  listen,
  connect,
  async lookup(name) {
    const found = await lookup(name, { all: true, verbatim: true });
    return found.map((entry) => entry.address);
  },
  bindUdp: bindDgram,
};
