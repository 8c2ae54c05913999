/**
 * A loopback HTTP server with fixed pages, for real HTTP clients (curl)
 * that go through the proxy.
 *
 * @module
 */

import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { withTimeout } from "./with_timeout.ts";

/**
 * A running HTTP server.
 *
 * @example
 * ```ts
 * import { startHttpServer } from "./http_server.ts";
 * const server = await startHttpServer("127.0.0.1", { "/": "hello" });
 * await server.close();
 * ```
 */
export interface HttpServer {
  /** The bound host. */
  host: string;
  /** The bound port. */
  port: number;
  /** Paths requested so far. */
  readonly requests: string[];
  /** Stops the server. */
  close(): Promise<void>;
}

/**
 * Serves `pages` (path → body) with 200, anything else with 404, and asks
 * clients not to keep the connection alive so closing is quick.
 *
 * @example
 * ```ts
 * import { startHttpServer } from "./http_server.ts";
 * const server = await startHttpServer("127.0.0.1", { "/a": "A" });
 * console.log(server.port > 0); // true
 * await server.close();
 * ```
 */
export async function startHttpServer(
  host: string,
  pages: Readonly<Record<string, string>>,
): Promise<HttpServer> {
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    const path = req.url ?? "/";
    requests.push(path);
    const found = Object.hasOwn(pages, path);
    res.writeHead(found ? 200 : 404, {
      "content-type": "text/plain; charset=utf-8",
      "connection": "close",
    });
    res.end(found ? pages[path] : "not found\n");
  });
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen({ host, port: 0 }, resolve);
    }),
    5_000,
    `HTTP server listening on ${host}`,
  );
  const { port } = server.address() as AddressInfo;
  return {
    host,
    port,
    requests,
    close: () =>
      withTimeout(
        new Promise<void>((resolve) => server.close(() => resolve())),
        5_000,
        `closing the HTTP server on ${host}:${port}`,
      ),
  };
}
