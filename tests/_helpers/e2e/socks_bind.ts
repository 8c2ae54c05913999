/**
 * BIND from the client's side: the `socks` npm client's two-reply flow
 * (its `bound` and `established` events), a raw request of any command for
 * byte-exact replies, and probes for "is anything still listening there".
 *
 * @module
 */

import assert from "node:assert/strict";
import * as net from "node:net";
import { SocksClient, type SocksRemoteHost } from "socks";
import { openSocket, RawSocket } from "./raw_socket.ts";
import {
  canonicalHost,
  type Credentials,
  type Endpoint,
  greeting,
  readReply,
  type ReplyFrame,
  request,
  userPass,
} from "./socks_raw.ts";
import { withTimeout } from "./with_timeout.ts";

/**
 * A BIND under way with the `socks` client.
 *
 * @example
 * ```ts
 * import { socksBind } from "./socks_bind.ts";
 * async function listenAt(proxyPort: number) {
 *   const bind = await socksBind({ host: "127.0.0.1", port: proxyPort }, { host: "0.0.0.0", port: 0 });
 *   const { host, port } = await bind.bound(5_000);
 *   bind.destroy();
 *   return `${host}:${port}`;
 * }
 * ```
 */
export interface BindClient {
  /**
   * The first reply's BND.ADDR:BND.PORT, where the far side connects (IPv6
   * in canonical form); rejects on a failure reply or after `ms`.
   */
  bound(ms: number): Promise<Endpoint>;
  /**
   * The second reply's address (the far side's), and the control socket,
   * now a tunnel to the far side; rejects on a failure reply or after `ms`.
   */
  established(ms: number): Promise<{ peer: Endpoint; raw: RawSocket }>;
  /** The control connection's local port. */
  readonly localPort: number;
  /** Closes the control connection. */
  destroy(): void;
}

/**
 * Starts a BIND through the proxy with `new SocksClient(…).connect()`:
 * `SocksClient.createConnection` serves CONNECT only. The control socket
 * is connected here and handed to the client, so the test owns it.
 *
 * @example
 * ```ts
 * import { socksBind } from "./socks_bind.ts";
 * async function far(proxyPort: number) {
 *   const bind = await socksBind({ host: "127.0.0.1", port: proxyPort }, { host: "0.0.0.0", port: 0 });
 *   try {
 *     return await bind.bound(5_000);
 *   } finally {
 *     bind.destroy();
 *   }
 * }
 * ```
 */
export async function socksBind(
  proxy: Endpoint,
  destination: Endpoint,
  credentials?: Credentials,
): Promise<BindClient> {
  const socket = await openSocket(
    { host: proxy.host, port: proxy.port },
    `connecting to the proxy at ${proxy.host}:${proxy.port}`,
  );
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
    command: "bind",
    destination,
    // Only the handshake: the client stops this timer once bound.
    timeout: 5_000,
  });
  const bound = new Promise<Endpoint>((resolve, reject) => {
    client.once("bound", (info) => resolve(endpointOf(info.remoteHost)));
    client.once("error", reject);
  });
  const established = new Promise<{ peer: Endpoint; raw: RawSocket }>(
    (resolve, reject) => {
      client.once("established", (info) => {
        // Wrapped at once: the client hands the socket over paused and
        // re-emits early bytes on the next turn, after this listener.
        const raw = new RawSocket(info.socket);
        resolve({ peer: endpointOf(info.remoteHost), raw });
      });
      client.once("error", reject);
    },
  );
  // Awaited by the test through bound() / established(), or not at all.
  bound.catch(() => {});
  established.catch(() => {});
  client.connect(socket);
  return {
    bound: (ms) => withTimeout(bound, ms, "the BIND's first reply"),
    established: (ms) =>
      withTimeout(established, ms, "the BIND's second reply"),
    localPort: socket.localPort ?? 0,
    destroy: () => socket.destroy(),
  };
}

/**
 * Connects to the proxy, negotiates (with `credentials`, if given) and sends
 * one request of `command` (0x01 CONNECT, 0x02 BIND, 0x03 UDP ASSOCIATE),
 * each message in its own write; returns the first reply as it came.
 *
 * @example
 * ```ts
 * import { rawRequest } from "./socks_bind.ts";
 * async function bindReply(proxyPort: number) {
 *   const { raw, reply } = await rawRequest(
 *     { host: "127.0.0.1", port: proxyPort },
 *     { host: "0.0.0.0", port: 0 },
 *     { command: 0x02 },
 *   );
 *   raw.destroy();
 *   return reply.reply;
 * }
 * ```
 */
export async function rawRequest(
  proxy: Endpoint,
  destination: Endpoint,
  options: { command: number; credentials?: Credentials },
): Promise<{ raw: RawSocket; reply: ReplyFrame }> {
  const { command, credentials } = options;
  const raw = await RawSocket.connect(proxy.host, proxy.port);
  try {
    const method = credentials === undefined ? 0x00 : 0x02;
    await raw.write(greeting([method]));
    assert.deepEqual(await raw.read(2), new Uint8Array([0x05, method]));
    if (credentials !== undefined) {
      await raw.write(userPass(credentials));
      assert.deepEqual(await raw.read(2), new Uint8Array([0x01, 0x00]));
    }
    await raw.write(request(destination, command));
    return { raw, reply: await readReply(raw) };
  } catch (error) {
    raw.destroy();
    throw error;
  }
}

/**
 * Tries one TCP connection to `host:port` and says how it went:
 * `"refused"` (ECONNREFUSED: nothing listens), `"connected"` (closed again
 * at once), or the error code.
 *
 * @example
 * ```ts
 * import { tryConnect } from "./socks_bind.ts";
 * import { refusedPort } from "./free_port.ts";
 * console.log(await tryConnect("127.0.0.1", await refusedPort())); // "refused"
 * ```
 */
export async function tryConnect(
  host: string,
  port: number,
  ms = 5_000,
): Promise<string> {
  const socket = net.connect({ host, port });
  try {
    return await withTimeout(
      new Promise<string>((resolve) => {
        socket.once("connect", () => resolve("connected"));
        socket.once("error", (error: Error & { code?: string }) => {
          resolve(
            error.code === "ECONNREFUSED" ? "refused" : String(error.code),
          );
        });
      }),
      ms,
      `connecting to ${host}:${port}`,
    );
  } finally {
    socket.destroy();
  }
}

/**
 * `count` consecutive TCP ports on `host` that were free a moment ago: each
 * was bound and closed again. Starts at a random port in 20000-59999 and
 * moves on past a taken one; gives up after 50 tries.
 *
 * @example
 * ```ts
 * import { freePortRange } from "./socks_bind.ts";
 * const [low, high] = await freePortRange("127.0.0.1", 3);
 * console.log(high - low); // 2
 * ```
 */
export async function freePortRange(
  host: string,
  count: number,
): Promise<[number, number]> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const low = 20_000 + Math.floor(Math.random() * 40_000);
    let free = true;
    for (let port = low; port < low + count && free; port++) {
      free = await isFree(host, port);
    }
    if (free) return [low, low + count - 1];
  }
  throw new Error(`Cannot find ${count} free ports in a row on ${host}`);
}

/**
 * Holds `host:port` with a listening server until `close()`.
 *
 * @example
 * ```ts
 * import { occupy } from "./socks_bind.ts";
 * const held = await occupy("127.0.0.1", 0);
 * await held.close();
 * ```
 */
export async function occupy(
  host: string,
  port: number,
): Promise<{ port: number; close(): Promise<void> }> {
  const server = net.createServer((socket) => socket.destroy());
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen({ host, port }, resolve);
    }),
    5_000,
    `listening on ${host}:${port}`,
  );
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      withTimeout(
        new Promise<void>((resolve) => server.close(() => resolve())),
        5_000,
        `closing ${host}:${port}`,
      ),
  };
}

async function isFree(host: string, port: number): Promise<boolean> {
  try {
    const held = await occupy(host, port);
    await held.close();
    return true;
  } catch {
    return false;
  }
}

function endpointOf(remoteHost: SocksRemoteHost | undefined): Endpoint {
  if (remoteHost === undefined) throw new Error("Reply has no address");
  return { host: canonicalHost(remoteHost.host), port: remoteHost.port };
}
