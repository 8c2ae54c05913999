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
  ListenOptions,
  Network,
  Receiver,
} from "../connection.ts";
import type { HostPort } from "../../wire/address.ts";
import { bindDgram } from "./_dgram.ts";
import { readDescriptorLimit } from "./_descriptor_limit.ts";
import { hostOf, Inbox, nextReadSize, type ReadSizes } from "./_shared.ts";

// Listeners are shared by every socket and find their connection through
// this key: a tunnel holds thousands of sockets, and a closure per
// listener per socket would cost each of them a few hundred bytes.
const connectionKey = Symbol("connection");
type KeyedSocket = net.Socket & { [connectionKey]: NodeConnection };

function onData(this: KeyedSocket, chunk: Uint8Array): void {
  this[connectionKey].inbox.push(chunk);
}
function onEnd(this: KeyedSocket): void {
  const conn = this[connectionKey];
  if (conn.forward === null) return conn.inbox.end(null);
  const { to, settle } = conn.forward;
  void to.closeWrite().then(() => settle(null));
}
function onError(this: KeyedSocket, error: Error): void {
  this[connectionKey].inbox.end(error);
  this[connectionKey].forward?.settle(error);
}
function onDrain(this: KeyedSocket): void {
  this[connectionKey].release();
}
function onClose(this: KeyedSocket): void {
  this[connectionKey].inbox.end(null);
  this[connectionKey].forward?.settle(null);
  this[connectionKey].release();
}

// A socket reads into a buffer of its own (node:net's `onread`) instead of
// a fresh 64 KiB one per read: forwarding reuses it while the kernel takes
// each write whole, and it grows while reads fill it, up to 256 KiB — a
// quarter of the syscalls per byte. Dialled sockets get it through the
// documented option; accepted ones through adoptOwnBuffer() below.
const OWN_READS: ReadSizes = { min: 1024, max: 256 * 1024 };

class OwnBuffer {
  conn: NodeConnection | null = null;
  #buffer: Uint8Array | null = null;
  #size = OWN_READS.min;

  // node:net asks for the buffer of the next read after every read.
  readonly buffer = (): Uint8Array =>
    this.#buffer ??= new Uint8Array(this.#size);

  readonly callback = (count: number, buffer: Uint8Array): boolean => {
    this.#size = nextReadSize(buffer.length, count, OWN_READS);
    if (this.#size !== buffer.length) this.#buffer = null;
    return this.conn!.ownRead(buffer.subarray(0, count));
  };

  /** The last chunk is still queued: the next read needs a new buffer. */
  renew(): void {
    this.#buffer = null;
  }
}

// net.Server takes no `onread`, so an accepted socket is given the same read
// path after accept, while pauseOnConnect still holds its first read: the
// three keys the option sets (found on a probe socket by their values, not
// guessed by name) and the handle's useUserBuffer(). Both are Node
// internals; should a release change them, accepted sockets fall back to
// stream reads, and tests/net/adapters/node_test.ts fails to say so.
const userBufferKeys = findUserBufferKeys();

function findUserBufferKeys() {
  const buffer = () => new Uint8Array(0);
  const callback = () => true;
  const probe = new net.Socket({ onread: { buffer, callback } });
  const own = probe as unknown as Record<symbol, unknown>;
  const symbols = Object.getOwnPropertySymbols(probe);
  const keys = {
    current: symbols.find((key) => own[key] === true),
    generator: symbols.find((key) => own[key] === buffer),
    callback: symbols.find((key) => own[key] === callback),
  };
  probe.destroy();
  const { current, generator } = keys;
  return current && generator && keys.callback
    ? { current, generator, callback: keys.callback }
    : null;
}

function adoptOwnBuffer(socket: net.Socket, own: OwnBuffer): boolean {
  const handle = (socket as unknown as {
    _handle?: { useUserBuffer?(buffer: Uint8Array): void };
  })._handle;
  if (userBufferKeys === null || typeof handle?.useUserBuffer !== "function") {
    return false;
  }
  const first = own.buffer();
  const fields = socket as unknown as Record<symbol, unknown>;
  fields[userBufferKeys.current] = first;
  fields[userBufferKeys.generator] = own.buffer;
  fields[userBufferKeys.callback] = own.callback;
  handle.useUserBuffer(first);
  return true;
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

  // While forwarding, chunks go straight to `to` instead of the inbox.
  forward: {
    to: NodeConnection;
    onChunk: (size: number) => void;
    settle: (error: Error | null) => void;
  } | null = null;
  #ownBuffer: OwnBuffer | null;

  constructor(socket: net.Socket, ownBuffer: OwnBuffer | null = null) {
    this.#socket = socket;
    (socket as KeyedSocket)[connectionKey] = this;
    this.inbox = new Inbox(socket);
    this.#ownBuffer = ownBuffer;
    // Nagle off: SOCKS carries interactive protocols, and the relay already
    // writes whole chunks.
    socket.setNoDelay(true);
    if (ownBuffer === null) socket.on("data", onData);
    else ownBuffer.conn = this;
    socket.on("end", onEnd);
    socket.on("error", onError);
    socket.on("drain", onDrain);
    socket.on("close", onClose);
  }

  get ownsReadBuffer(): boolean {
    return this.#ownBuffer !== null;
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

  receive(receiver: Receiver | null): void {
    this.inbox.deliverTo(receiver);
  }

  forwardTo(
    to: Connection,
    onChunk: (size: number) => void,
  ): Promise<void> | null {
    if (this.#ownBuffer === null || !(to instanceof NodeConnection)) {
      return null;
    }
    return new Promise((resolve, reject) => {
      // What arrived before forwarding began goes first.
      const { items, end } = this.inbox.takeQueued();
      for (const chunk of items) {
        onChunk(chunk.length);
        void to.write(chunk);
      }
      if (end !== null) {
        if (end.error !== null) return reject(end.error);
        return void to.closeWrite().then(resolve);
      }
      this.forward = {
        to,
        onChunk,
        settle: (error) => {
          if (this.forward === null) return;
          this.forward = null;
          error === null ? resolve() : reject(error);
        },
      };
      this.#socket.resume();
    });
  }

  /** A chunk read into the own buffer (dialled sockets); false pauses. */
  ownRead(chunk: Uint8Array): boolean {
    const forward = this.forward;
    if (forward === null) {
      // A copy: the buffer takes the next read.
      this.inbox.push(chunk.slice());
      return true;
    }
    forward.onChunk(chunk.length);
    const to = forward.to.#socket;
    const more = to.write(chunk);
    if (to.writableLength > 0) this.#ownBuffer!.renew();
    if (more) return true;
    forward.to.#drained.push(() => this.#socket.resume());
    return false;
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

/**
 * Whether `conn` reads into a buffer of its own: every socket of this
 * adapter should, and a test holds Node to it.
 */
export function readsIntoOwnBuffer(conn: Connection): boolean {
  return conn instanceof NodeConnection && conn.ownsReadBuffer;
}

function addressOf(host: string | undefined, port: number | undefined) {
  return { host: hostOf(host), port: port ?? 0 };
}

async function listen(
  address: HostPort,
  options: ListenOptions = {},
): Promise<Listener> {
  const server = net.createServer({
    allowHalfOpen: true,
    pauseOnConnect: true,
  });
  const accepted = new Inbox<Connection>({ pause() {}, resume() {} });
  server.on("connection", (socket) => {
    const own = new OwnBuffer();
    accepted.push(
      new NodeConnection(socket, adoptOwnBuffer(socket, own) ? own : null),
    );
  });
  server.on("error", (error) => accepted.end(error));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({
      host: address.host,
      port: address.port,
      ...(options.reusePort ? { reusePort: true } : {}),
    }, () => {
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
    const ownBuffer = new OwnBuffer();
    const socket = net.connect({
      host,
      port,
      allowHalfOpen: true,
      onread: ownBuffer,
    });
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
      resolve(new NodeConnection(socket, ownBuffer));
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
  descriptorLimit: readDescriptorLimit,
};
