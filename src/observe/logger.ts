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
 * Options of {@linkcode createLogger}.
 *
 * @example
 * ```ts
 * import type { LoggerOptions } from "./logger.ts";
 * const options: LoggerOptions = { level: "info", format: "json", write: console.error };
 * ```
 */
export interface LoggerOptions {
  /** Records below this level are dropped. */
  level: LogLevel;
  /** `json`: one object a line; `text`: `time LEVEL msg key=value…`. */
  format: "json" | "text";
  /** Takes one line, without its newline. */
  write: (line: string) => void;
}

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
export function createLogger(options: LoggerOptions): Logger {
  const threshold = LOG_LEVELS.indexOf(options.level);
  const format = options.format === "json" ? formatJson : formatText;
  return {
    log(record) {
      if (LOG_LEVELS.indexOf(record.level) < threshold) return;
      options.write(format(new Date().toISOString(), record));
    },
  };
}

function formatJson(time: string, record: LogRecord): string {
  return JSON.stringify({ time, ...record });
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
