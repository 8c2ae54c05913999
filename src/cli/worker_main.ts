/**
 * One worker thread of `--workers N`: reads the same settings as the main
 * thread, serves the listen addresses beside the other workers on the
 * shared state, and answers the main thread's messages (see workers.ts).
 *
 * @module
 */

import { parentPort, workerData } from "node:worker_threads";
import { parseCommandLine } from "./parse_args.ts";
import {
  loadSettings,
  type ServeCommand,
  serveOptions,
} from "./load_settings.ts";
import { UsageError } from "./settings.ts";
import type { FromWorker, ToWorker, WorkerData } from "./workers.ts";
import { createLogger, type Logger } from "../observe/logger.ts";
import { runtimeNetwork } from "../net/runtime_network.ts";
import { startWorkerServer } from "../server/server.ts";
import { openSharedState } from "../server/shared_table.ts";

const data = workerData as WorkerData;
const port = parentPort!;
const post = (message: FromWorker) => port.postMessage(message);
// Warnings about the settings (plaintext passwords) come from the main
// thread, once.
const quiet: Logger = { log() {} };

// Log lines go to the main thread at most every LOG_POST_MS (or per 64 KiB):
// each message wakes the main thread, which a busy server should not pay
// per connection.
const LOG_POST_MS = 20;
const LOG_POST_BYTES = 64 * 1024;
let unposted = "";
let postTimer: ReturnType<typeof setTimeout> | undefined;
function postLog(): void {
  clearTimeout(postTimer);
  postTimer = undefined;
  if (unposted === "") return;
  post({ type: "log", chunk: unposted });
  unposted = "";
}

const command = parseCommandLine(data.args) as ServeCommand;
let lines;
try {
  const settings = await loadSettings(command);
  lines = createLogger({
    level: settings.logLevel ?? "info",
    format: data.logFormat,
    // Whole lines only, so the main thread never splits one.
    sink: {
      write(chunk, done) {
        unposted += chunk;
        if (unposted.length >= LOG_POST_BYTES) postLog();
        else postTimer ??= setTimeout(postLog, LOG_POST_MS);
        done();
      },
    },
  });
  const batch = lines;
  const logger: Logger = {
    log: (record) => batch.log({ ...record, worker: data.column }),
  };
  const withLogger = async (next: typeof settings) => {
    const options = { ...await serveOptions(next, quiet), logger };
    if (data.listen !== null) options.listen = data.listen;
    return options;
  };
  const server = await startWorkerServer(
    await runtimeNetwork(),
    await withLogger(settings),
    {
      reusePort: true,
      shared: (options) => openSharedState(data.shared, data.column, options),
    },
  );
  port.on("message", (message: ToWorker) => {
    switch (message.type) {
      case "metrics":
        post({
          type: "metrics",
          id: message.id,
          text: server.metrics.render(),
        });
        return;
      case "reload":
        loadSettings(command).then(withLogger).then((next) =>
          server.reload(next)
        ).catch((error) => {
          logger.log({
            level: "error",
            msg: "reload failed; the old settings stay",
            error: (error as Error)?.message ?? String(error),
          });
        });
        return;
      case "close":
        server.close().then(() => batch.flush()).then(() => {
          postLog();
          post({ type: "closed" });
        });
        return;
    }
  });
  post({ type: "listening", addresses: server.addresses });
} catch (error) {
  await lines?.flush();
  postLog();
  post({
    type: "failed",
    message: (error as Error)?.message ?? String(error),
    usage: error instanceof UsageError,
  });
}
