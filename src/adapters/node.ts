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

function wrap(socket: net.Socket): Connection {
  const inbox = new Inbox({
    pause: () => socket.pause(),
    resume: () => socket.resume(),
  });
  // Nagle off: SOCKS carries interactive protocols, and the relay already
  // writes whole chunks.
  socket.setNoDelay(true);
  socket.on("data", (chunk: Uint8Array) => inbox.push(chunk));
  socket.on("end", () => inbox.end(null));
  socket.on("error", (error) => inbox.end(error));
  socket.on("close", () => inbox.end(null));
  let drained: (() => void)[] = [];
  const release = () => {
    for (const resolve of drained) resolve();
    drained = [];
  };
  socket.on("drain", release);
  socket.on("close", release);
  const address = (host: string | undefined, port: number | undefined) => ({
    host: hostOf(host),
    port: port ?? 0,
  });
  return {
    localAddress: address(socket.localAddress, socket.localPort),
    remoteAddress: address(socket.remoteAddress, socket.remotePort),
    read: () => inbox.read(),
    write(bytes) {
      if (socket.destroyed || socket.write(bytes)) return Promise.resolve();
      return new Promise((resolve) => drained.push(resolve));
    },
    closeWrite() {
      if (socket.destroyed || socket.writableEnded) return Promise.resolve();
      return new Promise((resolve) => {
        socket.end(resolve);
        socket.once("close", resolve);
      });
    },
    close() {
      socket.destroy();
      inbox.end(null);
    },
  };
}

async function listen(address: HostPort): Promise<Listener> {
  const server = net.createServer({
    allowHalfOpen: true,
    pauseOnConnect: true,
  });
  const accepted = new Inbox<Connection>({ pause() {}, resume() {} });
  server.on("connection", (socket) => accepted.push(wrap(socket)));
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
      resolve(wrap(socket));
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
