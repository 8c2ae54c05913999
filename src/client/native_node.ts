/**
 * `connectNative()` on Node and Bun: a `net.Socket` from `node:net`. Bytes
 * that arrived with the proxy's reply are put back with `unshift()`, so
 * the socket's reader gets them first.
 *
 * Bun uses this file too: a socket from `Bun.connect` fixes its handlers
 * when it is created, so it cannot be handed to user code mid-stream;
 * `node:net` is Bun's supported way to give a socket to user code.
 *
 * @module
 */

import * as net from "node:net";
import type { HostPort } from "../wire/address.ts";
import type { NativeOpening } from "./_native.ts";

/**
 * Connects to `address` and wraps the socket for the handshake.
 *
 * @example
 * ```ts
 * import { openNative } from "./native_node.ts";
 * const opening = await openNative(
 *   { host: "127.0.0.1", port: 1080 },
 *   AbortSignal.timeout(5000),
 * );
 * opening.destroy();
 * ```
 */
export async function openNative(
  address: HostPort,
  signal: AbortSignal,
): Promise<NativeOpening<net.Socket>> {
  signal.throwIfAborted();
  const socket = net.connect({ host: address.host, port: address.port });
  const onAbort = () => socket.destroy(signal.reason as Error);
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
  socket.removeAllListeners("connect");
  socket.removeAllListeners("error");
  return handshakeHold(socket);
}

function handshakeHold(socket: net.Socket): NativeOpening<net.Socket> {
  // Chunks that came while nobody was reading; the socket is paused as
  // soon as one does, so the stream keeps the rest.
  const unread: Uint8Array[] = [];
  let ended = false;
  let failure: Error | null = null;
  let waiter: {
    resolve: (chunk: Uint8Array | null) => void;
    reject: (error: Error) => void;
  } | null = null;
  const take = () => {
    const current = waiter;
    waiter = null;
    return current;
  };
  const onData = (chunk: Uint8Array) => {
    const current = take();
    if (current !== null) return current.resolve(chunk);
    unread.push(chunk);
    socket.pause();
  };
  const onEnd = () => {
    ended = true;
    take()?.resolve(null);
  };
  const onError = (error: Error) => {
    failure = error;
    take()?.reject(error);
  };
  socket.on("data", onData);
  socket.on("end", onEnd);
  socket.on("error", onError);
  return {
    transport: {
      read() {
        const chunk = unread.shift();
        if (chunk !== undefined) return Promise.resolve(chunk);
        if (failure !== null) return Promise.reject(failure);
        if (ended) return Promise.resolve(null);
        return new Promise((resolve, reject) => {
          waiter = { resolve, reject };
          socket.resume();
        });
      },
      write(bytes) {
        return new Promise((resolve, reject) => {
          socket.write(bytes, (error) => error ? reject(error) : resolve());
        });
      },
    },
    finish(leftover) {
      // Paused, so nothing flows until the new owner resumes it. 'end'
      // cannot have fired: the reply's chunk resolved a read, and the
      // handshake finished in that chunk's microtasks, before Node reads
      // the socket again.
      socket.pause();
      socket.off("data", onData);
      socket.off("end", onEnd);
      socket.off("error", onError);
      // unshift() puts a chunk in front of the buffer: last one first.
      for (const chunk of unread.reverse()) socket.unshift(chunk);
      if (leftover.length > 0) socket.unshift(leftover);
      return socket;
    },
    destroy() {
      socket.destroy();
    },
  };
}
