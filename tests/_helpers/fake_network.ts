/**
 * A scripted {@linkcode Network} for driver tests: listeners the test pushes
 * in-memory connections into, `connect()` answers scripted per address
 * (connect after N ms, fail with an error, hang until aborted), `lookup()`
 * answers scripted per name, and a record of every attempt and when it
 * started.
 *
 * @module
 */

import type {
  Connection,
  Datagram,
  DialOptions,
  Listener,
  Network,
  UdpSocket,
} from "../../src/net/connection.ts";
import { formatHostPort, type HostPort } from "../../src/wire/address.ts";
import { type MemoryConnection, memoryPair } from "./memory_connection.ts";

/** How `connect()` answers for one address. */
export type ConnectScript =
  | {
    /** Connects after `after` ms (default 0). */
    type: "connect";
    after?: number;
    /** The dialled connection's local address (BND in the reply). */
    local?: HostPort;
    /** Connects even when aborted, as a runtime may in a race. */
    ignoreAbort?: boolean;
    /** Unread chunks each way before a write waits; default 0. */
    buffer?: number;
  }
  | {
    /** Rejects with `error` after `after` ms (default 0). */
    type: "fail";
    error: unknown;
    after?: number;
  }
  | {
    /** Never settles unless its signal is aborted. */
    type: "hang";
  };

/** How `lookup()` answers for one name. */
export type LookupScript =
  | { addresses: string[]; after?: number }
  | { error: unknown; after?: number };

/** One `connect()` call as the network saw it. */
export interface Attempt {
  /** The address dialled. */
  host: string;
  /** The port dialled. */
  port: number;
  /** Milliseconds from the network's creation to the call. */
  at: number;
  /** The signal the caller passed. */
  signal: AbortSignal | undefined;
  /** How it ended so far. */
  outcome: "pending" | "connected" | "failed" | "aborted";
  /** The connection handed to the caller, once connected. */
  conn?: MemoryConnection;
  /** The destination's end of that connection, once connected. */
  peer?: MemoryConnection;
}

/** An error like the one a runtime gives, with an errno `code`. */
export function errnoError(code: string, message: string = code): Error {
  return Object.assign(new Error(message), { code });
}

/** A listener the test feeds with in-memory connections. */
export class FakeListener implements Listener {
  readonly address: HostPort;
  /** The server-side ends of every connection pushed in. */
  readonly accepted: MemoryConnection[] = [];
  /** `close()` was called. */
  closed = false;
  #queue: Array<Connection | { error: unknown }> = [];
  #waiter: {
    resolve: (conn: Connection | null) => void;
    reject: (error: unknown) => void;
  } | null = null;
  #nextClientPort = 50000;

  constructor(address: HostPort) {
    this.address = address;
  }

  /**
   * A client connects: returns the client's end; the server's end is
   * accepted. Throws ECONNREFUSED once the listener is closed.
   */
  connect(
    options: { from?: HostPort; buffer?: number } = {},
  ): MemoryConnection {
    if (this.closed) throw errnoError("ECONNREFUSED", "Connection refused");
    const from = options.from ?? {
      host: "127.0.0.1",
      port: this.#nextClientPort++,
    };
    const [client, server] = memoryPair({
      a: from,
      b: this.address,
      buffer: options.buffer ?? 0,
    });
    this.accepted.push(server);
    this.#deliver(server);
    return client;
  }

  /** The next `accept()` rejects with `error`. */
  fail(error: unknown): void {
    this.#deliver({ error });
  }

  accept(): Promise<Connection | null> {
    if (this.closed) return Promise.resolve(null);
    const next = this.#queue.shift();
    if (next !== undefined) {
      return "error" in next
        ? Promise.reject(next.error)
        : Promise.resolve(next);
    }
    return new Promise((resolve, reject) => {
      this.#waiter = { resolve, reject };
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const item of this.#queue) if (!("error" in item)) item.close();
    this.#queue = [];
    const waiter = this.#waiter;
    this.#waiter = null;
    waiter?.resolve(null);
  }

  #deliver(item: Connection | { error: unknown }): void {
    const waiter = this.#waiter;
    if (waiter === null) {
      this.#queue.push(item);
      return;
    }
    this.#waiter = null;
    if ("error" in item) waiter.reject(item.error);
    else waiter.resolve(item);
  }
}

/** A UDP socket that records what is sent and takes datagrams to deliver. */
export class FakeUdpSocket implements UdpSocket {
  readonly address: HostPort;
  /** Every datagram sent, in order. */
  readonly sent: Datagram[] = [];
  /** `close()` was called. */
  closed = false;
  readonly #onDatagram: (datagram: Datagram) => void;

  constructor(address: HostPort, onDatagram: (datagram: Datagram) => void) {
    this.address = address;
    this.#onDatagram = onDatagram;
  }

  /** A datagram arrives (dropped once closed, as on the wire). */
  deliver(datagram: Datagram): void {
    if (!this.closed) this.#onDatagram(datagram);
  }

  send(datagram: Datagram): void {
    if (!this.closed) {
      this.sent.push({ ...datagram, data: datagram.data.slice() });
    }
  }

  close(): void {
    this.closed = true;
  }
}

/** A {@linkcode Network} whose every answer the test scripts. */
export class FakeNetwork implements Network {
  /** Every `connect()` call, in order. */
  readonly attempts: Attempt[] = [];
  /** Every `lookup()` call, in order, with its time. */
  readonly lookups: Array<{ name: string; at: number }> = [];
  /** Every listener opened, in order. */
  readonly listeners: FakeListener[] = [];
  /** Every UDP socket bound, in order. */
  readonly udpSockets: FakeUdpSocket[] = [];
  readonly #connects = new Map<string, ConnectScript>();
  readonly #names = new Map<string, LookupScript>();
  readonly #listenErrors = new Map<string, unknown>();
  readonly #start = performance.now();
  #nextPort = 30000;
  #nextLocalPort = 40000;

  /** Milliseconds since this network was made. */
  now(): number {
    return performance.now() - this.#start;
  }

  /** Scripts `connect()` to `host` (any port). */
  onConnect(host: string, script: ConnectScript): this {
    this.#connects.set(host, script);
    return this;
  }

  /** Scripts `lookup(name)`. Unscripted names fail with ENOTFOUND. */
  onLookup(name: string, script: LookupScript): this {
    this.#names.set(name, script);
    return this;
  }

  /** Makes `listen()` on `address` (HOST:PORT text) reject with `error`. */
  failListen(address: string, error: unknown): this {
    this.#listenErrors.set(address, error);
    return this;
  }

  /** The listener opened `index`-th. */
  listener(index = 0): FakeListener {
    const listener = this.listeners[index];
    if (listener === undefined) throw new Error(`No listener ${index}`);
    return listener;
  }

  listen(address: HostPort): Promise<Listener> {
    const error = this.#listenErrors.get(formatHostPort(address));
    if (error !== undefined) return Promise.reject(error);
    const port = address.port === 0 ? this.#nextPort++ : address.port;
    const listener = new FakeListener({ host: address.host, port });
    this.listeners.push(listener);
    return Promise.resolve(listener);
  }

  connect(options: DialOptions): Promise<Connection> {
    const { host, port, signal } = options;
    const attempt: Attempt = {
      host,
      port,
      at: this.now(),
      signal,
      outcome: "pending",
    };
    this.attempts.push(attempt);
    const script: ConnectScript = this.#connects.get(host) ?? {
      type: "fail",
      error: new Error(`No connect script for ${host}`),
    };
    const heedsAbort = !(script.type === "connect" && script.ignoreAbort);
    return new Promise((resolve, reject) => {
      if (heedsAbort && signal?.aborted) {
        attempt.outcome = "aborted";
        return reject(signal.reason);
      }
      const settle = () => {
        signal?.removeEventListener("abort", onAbort);
        if (script.type === "fail") {
          attempt.outcome = "failed";
          reject(script.error);
          return;
        }
        if (script.type !== "connect") return;
        const local = script.local ??
          { host: "127.0.0.1", port: this.#nextLocalPort++ };
        const [conn, peer] = memoryPair({
          a: local,
          b: { host, port },
          buffer: script.buffer ?? 0,
        });
        attempt.outcome = "connected";
        attempt.conn = conn;
        attempt.peer = peer;
        resolve(conn);
      };
      const timer = script.type === "hang"
        ? undefined
        : setTimeout(settle, script.after ?? 0);
      const onAbort = () => {
        clearTimeout(timer);
        attempt.outcome = "aborted";
        reject(signal!.reason);
      };
      if (heedsAbort) {
        signal?.addEventListener("abort", onAbort, { once: true });
      }
    });
  }

  bindUdp(
    address: HostPort,
    onDatagram: (datagram: Datagram) => void,
  ): Promise<UdpSocket> {
    const port = address.port === 0 ? this.#nextPort++ : address.port;
    const socket = new FakeUdpSocket({ host: address.host, port }, onDatagram);
    this.udpSockets.push(socket);
    return Promise.resolve(socket);
  }

  lookup(name: string): Promise<string[]> {
    this.lookups.push({ name, at: this.now() });
    const script: LookupScript = this.#names.get(name) ?? {
      error: errnoError("ENOTFOUND", `getaddrinfo ENOTFOUND ${name}`),
    };
    return new Promise((resolve, reject) => {
      setTimeout(() => {
        if ("error" in script) reject(script.error);
        else resolve([...script.addresses]);
      }, script.after ?? 0);
    });
  }
}
