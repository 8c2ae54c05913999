/**
 * A logger that keeps every record, so tests can assert access-log lines.
 *
 * @module
 */

import type { Logger, LogRecord } from "../../../mod.ts";
import { eventually } from "./with_timeout.ts";

/**
 * Collects records in order.
 *
 * @example
 * ```ts
 * import { CollectingLogger } from "./collecting_logger.ts";
 * const logger = new CollectingLogger();
 * logger.log({ level: "info", msg: "listening" });
 * console.log(logger.named("listening").length); // 1
 * ```
 */
export class CollectingLogger implements Logger {
  /** Every record so far. */
  readonly records: LogRecord[] = [];

  /** Takes one record. */
  log(record: LogRecord): void {
    this.records.push(record);
  }

  /** Records whose `msg` is `msg`. */
  named(msg: string): LogRecord[] {
    return this.records.filter((record) => record.msg === msg);
  }

  /** The first record matching `match`, waiting up to `ms` for it. */
  async waitFor(
    match: (record: LogRecord) => boolean,
    ms: number,
    what: string,
  ): Promise<LogRecord> {
    await eventually(() => this.records.some(match), ms, what);
    return this.records.find(match)!;
  }
}
