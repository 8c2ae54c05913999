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
import { startServer } from "../server/server.ts";
import { openSharedState } from "../server/shared_table.ts";

const data = workerData as WorkerData;
const port = parentPort!;
const post = (message: FromWorker) => port.postMessage(message);
// Warnings about the settings (plaintext passwords) come from the main
// thread, once.
const quiet: Logger = { log() {} };

const command = parseCommandLine(data.args) as ServeCommand;
let lines;
try {
  const settings = await loadSettings(command);
  lines = createLogger({
    level: settings.logLevel ?? "info",
    format: data.logFormat,
    // A batch of whole lines is one message: never a line split in two.
    sink: {
      write(chunk, done) {
        post({ type: "log", chunk });
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
  const server = await startServer(
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
        server.close().then(() => batch.flush()).then(() =>
          post({ type: "closed" })
        );
        return;
    }
  });
  post({ type: "listening", addresses: server.addresses });
} catch (error) {
  await lines?.flush();
  post({
    type: "failed",
    message: (error as Error)?.message ?? String(error),
    usage: error instanceof UsageError,
  });
}
