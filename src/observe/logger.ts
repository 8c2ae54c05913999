/**
 * Structured logging: every record is one flat object, written as a JSON
 * line or, for people at a terminal, as text. Passwords never reach it.
 *
 * @module
 */

/**
 * Severity, lowest first.
 *
 * @example
 * ```ts
 * import { LOG_LEVELS } from "./logger.ts";
 * console.log(LOG_LEVELS.indexOf("warn") > LOG_LEVELS.indexOf("info")); // true
 * ```
 */
export const LOG_LEVELS = ["debug", "info", "warn", "error", "silent"] as const;
/** One of {@linkcode LOG_LEVELS}. */
export type LogLevel = typeof LOG_LEVELS[number];

/**
 * One log record: a level, a message and flat fields.
 *
 * @example
 * ```ts
 * import type { LogRecord } from "./logger.ts";
 * const record: LogRecord = { level: "info", msg: "listening", address: "127.0.0.1:1080" };
 * ```
 */
export interface LogRecord {
  /** Severity; never `silent`. */
  level: Exclude<LogLevel, "silent">;
  /** What happened, in a few words. */
  msg: string;
  /** Details. */
  [field: string]: unknown;
}

/**
 * Where the server sends its records.
 *
 * @example
 * ```ts
 * import type { Logger } from "./logger.ts";
 * const records: unknown[] = [];
 * const logger: Logger = { log: (record) => records.push(record) };
 * ```
 */
export interface Logger {
  /** Takes one record; must not throw. */
  log(record: LogRecord): void;
}

/**
 * Where a batching logger writes: one chunk of whole lines at a time. The
 * logger never has two writes in flight, so a sink need not queue.
 *
 * @example
 * ```ts
 * import { appendFile } from "node:fs";
 * import type { LogSink } from "./logger.ts";
 * const sink: LogSink = {
 *   write: (chunk, done) => appendFile("access.log", chunk, () => done()),
 * };
 * ```
 */
export interface LogSink {
  /**
   * Starts writing `chunk` (whole lines, each ending in a newline); calls
   * `done` once it is written or has failed. Must not throw.
   */
  write(chunk: string, done: () => void): void;
  /**
   * Writes `chunk` before returning, for the last lines of a process that
   * is exiting; called only with no write in flight.
   */
  writeSync?(chunk: string): void;
}

/**
 * Options of {@linkcode createLogger}: a `write` function takes every line
 * as it is logged; a `sink` takes them in batches.
 */
export type LoggerOptions =
  & {
    /** Records below this level are dropped. */
    level: LogLevel;
    /** `json`: one object a line; `text`: `time LEVEL msg key=value…`. */
    format: "json" | "text";
  }
  & ({
    /** Takes one line, without its newline, as it is logged. */
    write: (line: string) => void;
  } | {
    /** Takes the lines of one event-loop turn, or of 64 KiB, in one write. */
    sink: LogSink;
    /**
     * Bytes waiting for a slow sink past which lines are dropped and
     * counted rather than queued; 1 MiB unless given.
     */
    maxBuffered?: number;
  });

/**
 * A logger that formats records as lines; {@linkcode createLogger} makes
 * one.
 *
 * @example
 * ```ts
 * import { createLogger } from "./logger.ts";
 * const logger = createLogger({
 *   level: "info",
 *   format: "json",
 *   sink: { write: (chunk, done) => (console.log(chunk.trimEnd()), done()) },
 * });
 * logger.log({ level: "info", msg: "listening" });
 * await logger.flush(); // written
 * console.log(logger.dropped); // 0
 * ```
 */
export interface LineLogger extends Logger {
  /** Lines dropped because the sink fell more than `maxBuffered` behind. */
  readonly dropped: number;
  /**
   * Queues lines formatted elsewhere (another worker's), each whole and
   * ending in a newline, so every worker's lines share one stream.
   */
  writeLines(chunk: string): void;
  /** Resolves once every line logged so far is written. */
  flush(): Promise<void>;
  /**
   * Writes what is still queued before returning, for a process about to
   * exit; lines of a write already in flight are left to that write.
   */
  flushSync(): void;
}

/** Lines batched into one sink write at most. */
const BATCH_BYTES = 64 * 1024;
const MAX_BUFFERED = 1024 * 1024;

/**
 * A logger that formats records as lines, stamping each with the time.
 *
 * @example
 * ```ts
 * import { createLogger } from "./logger.ts";
 * const lines: string[] = [];
 * const logger = createLogger({ level: "info", format: "json", write: (l) => lines.push(l) });
 * logger.log({ level: "debug", msg: "dropped" });
 * logger.log({ level: "info", msg: "kept" });
 * console.log(lines.length); // 1
 * ```
 */
export function createLogger(options: LoggerOptions): LineLogger {
  const threshold = LOG_LEVELS.indexOf(options.level);
  const format = options.format === "json" ? formatJson : formatText;
  const clock = new Clock();
  if ("write" in options) {
    const write = options.write;
    return {
      log(record) {
        if (LOG_LEVELS.indexOf(record.level) < threshold) return;
        write(format(clock.now(), record));
      },
      writeLines(chunk) {
        for (const line of chunk.split("\n")) if (line !== "") write(line);
      },
      dropped: 0,
      flush: () => Promise.resolve(),
      flushSync() {},
    };
  }
  const batch = new LineBatch(
    options.sink,
    options.maxBuffered ?? MAX_BUFFERED,
  );
  batch.onDropped = (count) => {
    if (LOG_LEVELS.indexOf("warn") < threshold) return;
    batch.push(
      format(clock.now(), {
        level: "warn",
        msg: "log lines dropped: the log output is slower than the server",
        dropped: count,
      }) + "\n",
      true,
    );
  };
  return {
    log(record) {
      if (LOG_LEVELS.indexOf(record.level) < threshold) return;
      batch.push(format(clock.now(), record) + "\n", false);
    },
    writeLines: (chunk) => batch.push(chunk, false),
    get dropped() {
      return batch.dropped;
    },
    flush: () => batch.flush(),
    flushSync: () => batch.flushSync(),
  };
}

// Lines queued for one sink, written one batch at a time: a batch goes out
// on the next timer turn or once 64 KiB are queued, and never while another
// is in flight, so writes neither interleave nor reorder. What the sink has
// not taken is bounded: past the bound a line is counted and dropped whole.
class LineBatch {
  readonly #sink: LogSink;
  readonly #max: number;
  #queue: string[] = [];
  #queued = 0;
  #inFlight = 0;
  #scheduled = false;
  #dropped = 0;
  #unreported = 0;
  #idle: (() => void)[] = [];
  onDropped: (count: number) => void = () => {};

  constructor(sink: LogSink, max: number) {
    this.#sink = sink;
    this.#max = max;
  }

  get dropped(): number {
    return this.#dropped;
  }

  // `report` lines are the drop warning itself: it goes out past the bound
  // rather than being counted as one more drop.
  push(line: string, report: boolean): void {
    if (!report && this.#queued + this.#inFlight + line.length > this.#max) {
      this.#dropped++;
      this.#unreported++;
      return;
    }
    this.#queue.push(line);
    this.#queued += line.length;
    if (this.#inFlight > 0) return;
    if (this.#queued >= BATCH_BYTES) this.#write();
    else if (!this.#scheduled) {
      this.#scheduled = true;
      setTimeout(() => {
        this.#scheduled = false;
        if (this.#inFlight === 0) this.#write();
      }, 0);
    }
  }

  #take(): string {
    const chunk = this.#queue.length === 1
      ? this.#queue[0]!
      : this.#queue.join("");
    this.#queue = [];
    this.#queued = 0;
    return chunk;
  }

  #write(): void {
    if (this.#queued === 0) {
      for (const resolve of this.#idle.splice(0)) resolve();
      return;
    }
    const chunk = this.#take();
    this.#inFlight = chunk.length;
    let called = false;
    this.#sink.write(chunk, () => {
      if (called) return;
      called = true;
      this.#inFlight = 0;
      this.#report();
      this.#write();
    });
  }

  // Called once the sink has caught up with a batch: one warning line for
  // every drop since the last.
  #report(): void {
    if (this.#unreported === 0) return;
    const count = this.#unreported;
    this.#unreported = 0;
    this.onDropped(count);
  }

  flush(): Promise<void> {
    if (this.#inFlight === 0 && this.#queued === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.#idle.push(resolve);
      if (this.#inFlight === 0) this.#write();
    });
  }

  flushSync(): void {
    if (this.#inFlight > 0 || this.#sink.writeSync === undefined) return;
    this.#report();
    if (this.#queued === 0) return;
    this.#sink.writeSync(this.#take());
  }
}

// ISO 8601 time to the millisecond, rebuilt from a cached prefix: records
// come many to the second, and Date#toISOString() costs a Date each.
class Clock {
  #second = -1;
  #prefix = "";

  now(): string {
    const ms = Date.now();
    const second = Math.floor(ms / 1000);
    if (second !== this.#second) {
      this.#second = second;
      this.#prefix = new Date(second * 1000).toISOString().slice(0, 20);
    }
    const fraction = ms - second * 1000;
    return `${this.#prefix}${
      fraction < 10 ? "00" : fraction < 100 ? "0" : ""
    }${fraction}Z`;
  }
}

// The record as it is, with the time spliced in first: no copy of the record.
function formatJson(time: string, record: LogRecord): string {
  let body: string;
  try {
    body = JSON.stringify(record);
  } catch {
    // A value JSON cannot hold (a bigint, a cycle) costs the details, not the line.
    body = JSON.stringify({ level: record.level, msg: record.msg });
  }
  return `{"time":"${time}",${body.slice(1)}`;
}
function formatText(time: string, record: LogRecord): string {
  const { level, msg, ...fields } = record;
  const details = Object.entries(fields)
    .filter(([, value]) => value !== undefined)
    .map(([key, value]) => `${key}=${textValue(value)}`)
    .join(" ");
  return `${time} ${level.toUpperCase().padEnd(5)} ${msg}${
    details ? ` ${details}` : ""
  }`;
}

// Bare when unambiguous; quoted when a space, `=` or quote would let a
// key=value reader split the value wrongly.
function textValue(value: unknown): string {
  return typeof value === "string" && /^[^\s="]+$/.test(value)
    ? value
    : JSON.stringify(value);
}
