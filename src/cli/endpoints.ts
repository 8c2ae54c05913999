/**
 * What the command starts beside the SOCKS listeners and prints on standard
 * output once it serves, whether one worker serves or several: each
 * address it listens on, and the metrics endpoint.
 *
 * @module
 */

import process from "node:process";
import type { Logger } from "../observe/logger.ts";
import {
  type MetricsServer,
  type MetricsServerOptions,
  serveMetrics,
} from "../observe/metrics_server.ts";
import { runtimeNetwork } from "../net/runtime_network.ts";
import { formatHostPort, type HostPort } from "../wire/address.ts";
import { parseMetricsAddress } from "./load_settings.ts";

/** Prints the addresses the SOCKS server listens on. */
export function announceListening(addresses: readonly HostPort[]): void {
  for (const address of addresses) {
    process.stdout.write(`edgesocks listening on ${formatHostPort(address)}\n`);
  }
}

/**
 * Starts the `--metrics` endpoint, if asked for, and prints its address.
 * On failure `stop()` (the SOCKS server's close) runs before the error is
 * thrown on.
 */
export async function startMetricsEndpoint(
  address: string | undefined,
  options: {
    metrics: MetricsServerOptions["metrics"];
    logger: Logger;
    stop: () => Promise<unknown>;
  },
): Promise<MetricsServer | null> {
  if (address === undefined) return null;
  let endpoint;
  try {
    endpoint = await serveMetrics(await runtimeNetwork(), {
      address: parseMetricsAddress(address),
      metrics: options.metrics,
      logger: options.logger,
    });
  } catch (error) {
    await options.stop();
    throw error;
  }
  process.stdout.write(
    `edgesocks metrics on http://${formatHostPort(endpoint.address)}/metrics\n`,
  );
  return endpoint;
}
