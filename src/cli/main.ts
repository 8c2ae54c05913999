/**
 * The `edgesocks` command, the same on Deno, Bun and Node: read flags and
 * the config file, read users files, serve, reload on SIGHUP, and close
 * gracefully on SIGINT or SIGTERM.
 *
 * Exit codes: 0 after a signal, 1 when the server cannot start (an address
 * in use), 2 for a usage or configuration mistake.
 *
 * @module
 */

import process from "node:process";
import { runHashPassword } from "./hash_password.ts";
import {
  asUsageError,
  loadSettings,
  type ServeCommand,
  serveOptions,
} from "./load_settings.ts";
import { serveWorkers, workerCount } from "./workers.ts";
import { untilStopped } from "./signals.ts";
import { announceListening, startMetricsEndpoint } from "./endpoints.ts";
import { HELP, parseCommandLine } from "./parse_args.ts";
import { UsageError } from "./settings.ts";
import { stderrSink } from "./stderr_sink.ts";
import { createLogger, type LineLogger } from "../observe/logger.ts";
import { serve } from "../server/serve.ts";
import { VERSION } from "../version.ts";

/** How long an exiting process waits for the log output to take its last lines. */
const LOG_FLUSH_MS = 2_000;

// The serve command's logger, flushed on every way out of the process.
let log: LineLogger | null = null;

async function flushLog(): Promise<void> {
  if (log === null) return;
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    log.flush(),
    new Promise((resolve) => timer = setTimeout(resolve, LOG_FLUSH_MS)),
  ]);
  clearTimeout(timer);
}

// A second signal and a crash end the process without returning through
// main(): the lines still queued go out first.
process.on("exit", () => log?.flushSync());
for (const event of ["uncaughtException", "unhandledRejection"] as const) {
  process.on(event, (error: unknown) => {
    const text = (error as Error)?.stack ?? String(error);
    if (log === null) {
      process.stderr.write(`edgesocks: ${text}\n`);
      process.exit(1);
    }
    log.log({ level: "error", msg: "crashed", error: text });
    void flushLog().then(() => process.exit(1));
  });
}

async function main(args: string[]): Promise<number> {
  const command = parseCommandLine(args);
  switch (command.kind) {
    case "help":
      process.stdout.write(HELP);
      return 0;
    case "version":
      process.stdout.write(`edgesocks ${VERSION}\n`);
      return 0;
    case "hash-password":
      return await runHashPassword(command.args, process);
    case "serve":
      return await serveCommand(command, args);
  }
}

async function serveCommand(
  command: ServeCommand,
  args: string[],
): Promise<number> {
  const settings = await loadSettings(command);
  const logger = createLogger({
    level: settings.logLevel ?? "info",
    format: settings.logFormat ?? (process.stderr.isTTY ? "text" : "json"),
    sink: stderrSink(),
  });
  log = logger;
  const options = await serveOptions(settings, logger);
  const count = workerCount(settings.workers);
  if (count > 1) {
    return await serveWorkers({
      args,
      command,
      settings,
      options,
      logger,
      count,
    });
  }
  let server;
  try {
    server = await serve(options);
  } catch (error) {
    throw asUsageError(error);
  }
  server.metrics.observeLog(logger);
  announceListening(server.addresses);
  const metrics = await startMetricsEndpoint(settings.metrics, {
    metrics: server.metrics,
    logger,
    stop: () => server.close({ gracePeriod: 0 }),
  });
  const running = server;
  await untilStopped(logger, {
    reload: async () => {
      const next = await serveOptions(await loadSettings(command), logger);
      running.reload(next);
    },
    close: () => Promise.all([running.close(), metrics?.close()]),
  });
  return 0;
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  const usage = error instanceof UsageError;
  process.stderr.write(
    `edgesocks: ${(error as Error)?.message ?? String(error)}${
      usage ? " (see --help)" : ""
    }\n`,
  );
  process.exitCode = usage ? 2 : 1;
}
await flushLog();
process.exit();
