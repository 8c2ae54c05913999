/**
 * The serve command's signals, with one worker or many: SIGHUP reloads,
 * SIGINT/SIGTERM close gracefully, a second one ends the process at once.
 *
 * @module
 */

import process from "node:process";
import type { Logger } from "../observe/logger.ts";

/**
 * Serves signals until SIGINT or SIGTERM, then resolves once `close` has.
 * `reload` takes the new settings on SIGHUP; its failure is logged and the
 * old settings stay.
 *
 * @example
 * ```ts
 * import { untilStopped } from "./signals.ts";
 * const logger = { log() {} };
 * const stopped = untilStopped(logger, {
 *   reload: async () => {},
 *   close: async () => {},
 * });
 * console.log(stopped instanceof Promise); // true
 * ```
 */
export function untilStopped(
  logger: Logger,
  on: { reload: () => Promise<void>; close: () => Promise<unknown> },
): Promise<void> {
  return new Promise<void>((done) => {
    let closing = false;
    const reload = () => {
      on.reload().catch((error) => {
        logger.log({
          level: "error",
          msg: "reload failed; the old settings stay",
          error: (error as Error)?.message ?? String(error),
        });
      });
    };
    const stop = (signal: NodeJS.Signals) => {
      // A second signal while tunnels drain ends the process at once.
      if (closing) process.exit(signal === "SIGINT" ? 130 : 143);
      closing = true;
      logger.log({ level: "info", msg: "closing", signal });
      on.close().then(() => {
        process.off("SIGINT", stop);
        process.off("SIGTERM", stop);
        process.off("SIGHUP", reload);
        done();
      });
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
    process.on("SIGHUP", reload);
  });
}
