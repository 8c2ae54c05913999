/**
 * Destination servers on loopback: a TCP server whose connections the test
 * drives through {@linkcode RawSocket}, and an echo server built on it.
 *
 * @module
 */

import * as net from "node:net";
import { RawSocket } from "./raw_socket.ts";
import type { Endpoint } from "./socks_raw.ts";
import { withTimeout } from "./with_timeout.ts";

/**
 * A listening test server.
 *
 * @example
 * ```ts
 * import { startEchoServer } from "./tcp_server.ts";
 * const echo = await startEchoServer("127.0.0.1");
 * console.log(echo.port > 0); // true
 * await echo.close();
 * ```
 */
export interface TcpServer extends Endpoint {
  /** The peer address of every connection accepted so far, in order. */
  readonly peers: Endpoint[];
  /** Closes the listener and every connection still open. */
  close(): Promise<void>;
}

/**
 * Listens on `host`, port 0, half-open, and hands every accepted
 * connection to `onConnection` as a {@linkcode RawSocket}.
 *
 * @example
 * ```ts
 * import { listenTcp } from "./tcp_server.ts";
 * const server = await listenTcp("127.0.0.1", (raw) => raw.destroy());
 * await server.close();
 * ```
 */
export async function listenTcp(
  host: string,
  onConnection: (raw: RawSocket) => void,
): Promise<TcpServer> {
  const sockets = new Set<net.Socket>();
  const peers: Endpoint[] = [];
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    peers.push({ host: socket.remoteAddress!, port: socket.remotePort! });
    onConnection(new RawSocket(socket));
  });
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen({ host, port: 0 }, resolve);
    }),
    5_000,
    `listening on ${host}`,
  );
  const { port } = server.address() as net.AddressInfo;
  return {
    host,
    port,
    peers,
    async close() {
      for (const socket of sockets) socket.destroy();
      await withTimeout(
        new Promise<void>((resolve) => server.close(() => resolve())),
        5_000,
        `closing the server on ${host}:${port}`,
      );
    },
  };
}

/**
 * An echo server: sends back every byte, and answers FIN with FIN.
 *
 * @example
 * ```ts
 * import { startEchoServer } from "./tcp_server.ts";
 * const echo = await startEchoServer("::1");
 * await echo.close();
 * ```
 */
export function startEchoServer(host: string): Promise<TcpServer> {
  return listenTcp(host, (raw) => {
    const { socket } = raw;
    raw.stream((chunk) => {
      // Backpressure: stop reading while the echo is not yet taken.
      if (!socket.write(chunk)) {
        socket.pause();
        socket.once("drain", () => socket.resume());
      }
    });
    raw.ended(60_000).then(
      (ending) => ending.error === null ? socket.end() : socket.destroy(),
      () => socket.destroy(),
    );
  });
}
