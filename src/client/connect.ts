/**
 * CONNECT through a SOCKS5 proxy on whichever runtime runs this code:
 * {@linkcode connect} gives a runtime-neutral tunnel with web streams,
 * {@linkcode connectNative} the runtime's own socket.
 *
 * @module
 */

import { runtimeNetwork } from "../net/runtime_network.ts";
import type { HostPort } from "../wire/address.ts";
import { Command } from "../wire/constants.ts";
import { leftoverOf, openConnect, underDeadline } from "./_connect.ts";
import type { OpenNative } from "./_native.ts";
import { ClientHandshake } from "./handshake.ts";
import { negotiate } from "./negotiate.ts";
import type { DenoConn } from "./native_deno.ts";
import type { ConnectOptions } from "./options.ts";
import type { SocksConnection } from "./socks_connection.ts";
import { requestAddress } from "./tunnel.ts";
import type { ProxyOptions } from "./url.ts";

export { type ConnectOptions, DEFAULT_TIMEOUT } from "./options.ts";

/**
 * The part of a `net.Socket` (Node, Bun) that {@linkcode NativeSocket}
 * names, so the package's types need no `@types/node`: cast to `Socket`
 * from `node:net`, or pass it as `connectNative`'s type argument, for the
 * rest.
 *
 * @example
 * ```ts
 * import type { NodeSocketLike } from "./connect.ts";
 * function stop(socket: NodeSocketLike) {
 *   socket.destroy();
 * }
 * ```
 */
export interface NodeSocketLike {
  /** Starts the flow of `data` events. */
  resume(): unknown;
  /** Sends bytes. */
  write(bytes: Uint8Array | string): boolean;
  /** Half-closes after what is queued. */
  end(): unknown;
  /** Closes at once. */
  destroy(): unknown;
  /** Listens for `data`, `end`, `close`, `error`… */
  on(event: string, listener: (...args: never[]) => void): unknown;
}

/**
 * The socket {@linkcode connectNative} returns: a `net.Socket` on Node and
 * Bun, a `Deno.Conn` on Deno.
 *
 * @example
 * ```ts
 * import type { NativeSocket } from "./connect.ts";
 * function close(socket: NativeSocket) {
 *   "destroy" in socket ? socket.destroy() : socket.close();
 * }
 * ```
 */
export type NativeSocket = NodeSocketLike | DenoConn;

/**
 * Opens a tunnel to `destination` through `proxy` (a URL such as
 * `socks5h://user:pass@host:1080`, or {@linkcode ProxyOptions}).
 * `destination` is `host:port`, `[v6]:port`, or a host and port.
 *
 * Rejects with `SocksReplyError` (the proxy's failure reply, `reply` its
 * code), `SocksAuthError`, `SocksProtocolError`, the runtime's error when
 * the proxy cannot be reached, a `TimeoutError`, or the signal's reason.
 *
 * @example
 * ```ts
 * import { connect } from "./connect.ts";
 * const tunnel = await connect("socks5h://127.0.0.1:1080", "example.com:80");
 * const writer = tunnel.writable.getWriter();
 * await writer.write(new TextEncoder().encode("GET / HTTP/1.0\r\n\r\n"));
 * await writer.close();
 * for await (const chunk of tunnel.readable) console.log(chunk.length);
 * ```
 */
export function connect(
  proxy: string | ProxyOptions,
  destination: string | HostPort,
  options: ConnectOptions = {},
): Promise<SocksConnection> {
  return openConnect(proxy, destination, {
    ...options,
    defaultNetwork: runtimeNetwork,
  });
}

/**
 * Like {@linkcode connect}, but resolves with the runtime's own socket,
 * the handshake done and no byte of the tunnel lost:
 *
 * - Node and Bun: a `net.Socket` from `node:net`, handed over **paused**
 *   with whatever arrived after the proxy's reply put back in front
 *   (`unshift()`): attach listeners, then `resume()` (or `pipe()`, or
 *   iterate it). Bun gets a `node:net` socket too: a socket from
 *   `Bun.connect` fixes its handlers at creation, so it cannot be handed
 *   over mid-stream, and `node:net` is Bun's supported way to hand a
 *   socket to user code.
 * - Deno: a `Deno.Conn`; the handshake reads exactly the bytes each reply
 *   still needs, so nothing past the reply is ever read.
 *
 * @example
 * ```ts
 * import type { Socket } from "node:net";
 * import { connectNative } from "./connect.ts";
 * const socket = await connectNative<Socket>("socks5h://127.0.0.1:1080", "example.com:80");
 * socket.on("data", (chunk) => console.log(chunk.length));
 * socket.resume();
 * socket.end("GET / HTTP/1.0\r\n\r\n");
 * ```
 */
export async function connectNative<T = NativeSocket>(
  proxy: string | ProxyOptions,
  destination: string | HostPort,
  options: ConnectOptions = {},
): Promise<T> {
  return await underDeadline(
    {
      proxy,
      destination,
      options: { ...options, defaultNetwork: runtimeNetwork },
    },
    async ({ proxyOptions, target, network, signal }) => {
      const handshake = new ClientHandshake({
        command: Command.Connect,
        destination: await requestAddress(network, proxyOptions, {
          ...target,
          signal,
        }),
        ...(proxyOptions.credentials
          ? { credentials: proxyOptions.credentials }
          : {}),
      });
      const open: OpenNative<NativeSocket> = "Deno" in globalThis
        ? (await import("./native_deno.ts")).openNative
        : (await import("./native_node.ts")).openNative;
      const opening = await open(proxyOptions, signal);
      try {
        const outcome = await negotiate(opening.transport, handshake, {
          signal,
        });
        return opening.finish(leftoverOf(outcome)) as T;
      } catch (error) {
        opening.destroy();
        throw error;
      }
    },
  );
}
