/**
 * Starting the server under test with a collecting logger, and the checks
 * every end-to-end test repeats: connect through it with the `socks` client,
 * and prove it still serves a normal client.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { Socket } from "node:net";
import { SocksClient, type SocksRemoteHost } from "socks";
import {
  type LogRecord,
  serve,
  type ServeOptions,
  type Server,
} from "../../../mod.ts";
import { CollectingLogger } from "./collecting_logger.ts";
import type { Credentials, Endpoint } from "./socks_raw.ts";
import { openTunnel } from "./socks_raw.ts";
import { withTimeout } from "./with_timeout.ts";

/**
 * The server under test and what it logged.
 *
 * @example
 * ```ts
 * import { startProxy } from "./proxy.ts";
 * const proxy = await startProxy({});
 * await proxy.server.close();
 * ```
 */
export interface Proxy {
  /** The server. */
  server: Server;
  /** Every record it logged. */
  logger: CollectingLogger;
  /** Its first address. */
  endpoint: Endpoint;
}

/**
 * The one access record of `client` (HOST:PORT), waited for: the server
 * logs it once it is done with the client's connection.
 *
 * @example
 * ```ts
 * import { accessRecord, startProxy } from "./proxy.ts";
 * const proxy = await startProxy({});
 * // …a client from 127.0.0.1:50000 connects and leaves…
 * const record = await accessRecord(proxy, "127.0.0.1:50000");
 * console.log(record.reply);
 * ```
 */
export async function accessRecord(
  proxy: Proxy,
  client: string,
): Promise<LogRecord> {
  await proxy.logger.waitFor(
    (r) => r.msg === "access" && r.client === client,
    5_000,
    `the access record of ${client}`,
  );
  const records = proxy.logger.named("access").filter((r) =>
    r.client === client
  );
  assert.equal(records.length, 1, `one access record for ${client}`);
  return records[0]!;
}

/**
 * Starts a server on 127.0.0.1:0 (unless `options.listen` says otherwise)
 * with a {@linkcode CollectingLogger}.
 *
 * @example
 * ```ts
 * import { startProxy } from "./proxy.ts";
 * const { server, endpoint } = await startProxy({ users: { alice: "s3cret" } });
 * console.log(endpoint.host); // "127.0.0.1"
 * await server.close();
 * ```
 */
export async function startProxy(options: ServeOptions): Promise<Proxy> {
  const logger = new CollectingLogger();
  const server = await withTimeout(
    serve({ listen: "127.0.0.1:0", logger, ...options }),
    5_000,
    "serve()",
  );
  const address = server.addresses[0]!;
  return { server, logger, endpoint: { ...address } };
}

/**
 * CONNECT through the proxy with the `socks` npm client.
 *
 * @example
 * ```ts
 * import { socksConnect } from "./proxy.ts";
 * async function open(proxyPort: number, port: number) {
 *   const { socket } = await socksConnect({ host: "127.0.0.1", port: proxyPort }, { host: "localhost", port });
 *   socket.destroy();
 * }
 * ```
 */
export async function socksConnect(
  proxy: Endpoint,
  destination: Endpoint,
  credentials?: Credentials,
): Promise<{ socket: Socket; remoteHost: SocksRemoteHost | undefined }> {
  const established = await withTimeout(
    SocksClient.createConnection({
      proxy: {
        host: proxy.host,
        port: proxy.port,
        type: 5,
        ...(credentials === undefined ? {} : {
          userId: credentials.username,
          password: credentials.password,
        }),
      },
      command: "connect",
      destination,
      timeout: 5_000,
    }),
    6_000,
    `SOCKS CONNECT to ${destination.host}:${destination.port}`,
  );
  return { socket: established.socket, remoteHost: established.remoteHost };
}

/**
 * Asserts that the proxy still completes a CONNECT to `echo` and relays
 * both ways.
 *
 * @example
 * ```ts
 * import { assertServes } from "./proxy.ts";
 * import type { Endpoint } from "./socks_raw.ts";
 * async function check(proxy: Endpoint, echo: Endpoint) {
 *   await assertServes(proxy, echo);
 * }
 * ```
 */
export async function assertServes(
  proxy: Endpoint,
  echo: Endpoint,
  credentials?: Credentials,
): Promise<void> {
  const { raw, reply } = await openTunnel(proxy, echo, credentials);
  try {
    assert.equal(reply.reply, 0x00, "the proxy still serves a normal client");
    const payload = new TextEncoder().encode("still serving");
    await raw.write(payload);
    assert.deepEqual(await raw.read(payload.length), payload);
  } finally {
    raw.destroy();
  }
}
