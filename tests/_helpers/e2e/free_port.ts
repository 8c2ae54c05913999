/**
 * A loopback port nothing listens on, for "connection refused".
 *
 * @module
 */

import * as net from "node:net";
import { withTimeout } from "./with_timeout.ts";

/**
 * Binds 127.0.0.1:0, notes the port and closes it again: connecting to it
 * is refused (unless another process takes it in between, which is rare).
 *
 * @example
 * ```ts
 * import { refusedPort } from "./free_port.ts";
 * console.log(await refusedPort() > 0); // true
 * ```
 */
export async function refusedPort(host = "127.0.0.1"): Promise<number> {
  const server = net.createServer();
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen({ host, port: 0 }, resolve);
    }),
    5_000,
    `binding ${host}:0`,
  );
  const { port } = server.address() as net.AddressInfo;
  await withTimeout(
    new Promise<void>((resolve) => server.close(() => resolve())),
    5_000,
    `closing ${host}:${port}`,
  );
  return port;
}
