/**
 * `--workers N`: N threads (`node:worker_threads`, the same on Deno, Bun
 * and Node) each run a server on the same listen addresses with
 * `SO_REUSEPORT`, so the kernel spreads clients over every core. They
 * share sessions, limits, handshake slots and login failures through
 * `SharedArrayBuffer`s (see src/server/shared_table.ts for why threads and
 * shared memory rather than processes and messages).
 *
 * The main thread accepts no client. It starts the workers (the first
 * alone, so a port 0 becomes a real port the others join), writes their
 * log lines to the one log stream (each worker batches whole lines into
 * one message, so lines never interleave), serves `/metrics` by asking
 * every worker for its counters and summing them, passes SIGHUP on, drains
 * every worker on SIGINT/SIGTERM, and replaces a worker that dies after
 * zeroing what it held in the shared tables (counts are kept per worker).
 *
 * @module
 */

import process from "node:process";
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import type { LineLogger } from "../observe/logger.ts";
import { sumExpositions } from "../observe/metrics_sum.ts";
import { resolveOptions, type ServeOptions } from "../server/options.ts";
import {
  allocateSharedState,
  clearWorker,
  type SharedBuffers,
} from "../server/shared_table.ts";
import { formatHostPort, type HostPort } from "../wire/address.ts";
import { asUsageError, loadSettings, serveOptions } from "./load_settings.ts";
import type { ServeCommand } from "./load_settings.ts";
import { type Settings, UsageError } from "./settings.ts";
import { untilStopped } from "./signals.ts";
import { announceListening, startMetricsEndpoint } from "./endpoints.ts";

/**
 * What a worker thread is started with.
 *
 * @example
 * ```ts
 * import type { WorkerData } from "./workers.ts";
 * function describe(data: WorkerData): string {
 *   return `worker ${data.column} of ${data.shared.workers}`;
 * }
 * ```
 */
export interface WorkerData {
  /** The command line, parsed again by the worker. */
  args: string[];
  /** This worker's number, and its count column in the shared tables. */
  column: number;
  /** The shared state. */
  shared: SharedBuffers;
  /** The addresses the first worker bound (real ports); `null` for it. */
  listen: string[] | null;
  /** The log format the main thread writes. */
  logFormat: "json" | "text";
}

/**
 * Messages between the main thread and a worker.
 *
 * @example
 * ```ts
 * import type { ToWorker } from "./workers.ts";
 * const message: ToWorker = { type: "reload" };
 * ```
 */
export type ToWorker =
  | { type: "reload" }
  | { type: "close" }
  | { type: "metrics"; id: number };

/** What a worker tells the main thread. */
export type FromWorker =
  | { type: "listening"; addresses: HostPort[] }
  | { type: "log"; chunk: string }
  | { type: "metrics"; id: number; text: string }
  | { type: "closed" }
  | { type: "failed"; message: string; usage: boolean };

/** How long a scrape waits for a worker's counters. */
const METRICS_WAIT_MS = 2_000;

/**
 * The number of workers `settings` ask for: `auto` is the cores this
 * process may run on.
 *
 * @example
 * ```ts
 * import { workerCount } from "./workers.ts";
 * console.log(workerCount(3)); // 3
 * ```
 */
export function workerCount(setting: Settings["workers"]): number {
  if (setting === undefined) return 1;
  return setting === "auto" ? availableParallelism() : setting;
}

/**
 * What the runtime lacks to serve one address from several threads, or
 * `null`: Node has `reusePort` from 22.12.
 *
 * @example
 * ```ts
 * import { missingForWorkers } from "./workers.ts";
 * console.log(typeof missingForWorkers()); // "object" or "string"
 * ```
 */
export function missingForWorkers(): string | null {
  if ("Deno" in globalThis || "Bun" in globalThis) return null;
  const [major = 0, minor = 0] = process.versions.node.split(".").map(Number);
  if (major > 22 || (major === 22 && minor >= 12)) return null;
  return `Node ${process.versions.node} has no listen({ reusePort }) (Node 22.12 or later has)`;
}

/**
 * Serves with `count` workers until SIGINT or SIGTERM; resolves with the
 * exit code.
 *
 * @example
 * ```ts
 * import { serveWorkers } from "./workers.ts";
 * console.log(typeof serveWorkers); // "function"
 * ```
 */
export async function serveWorkers(init: {
  args: string[];
  command: ServeCommand;
  settings: Settings;
  options: ServeOptions;
  logger: LineLogger;
  count: number;
}): Promise<number> {
  const { args, command, settings, options, logger, count } = init;
  const missing = missingForWorkers();
  if (missing !== null) throw new UsageError(`--workers ${count}: ${missing}`);
  let config;
  try {
    config = resolveOptions(options);
  } catch (error) {
    throw asUsageError(error);
  }
  let shared: SharedBuffers;
  try {
    shared = allocateSharedState({
      workers: count,
      loginFailures: config.loginThrottle.failures,
    });
  } catch (error) {
    throw new UsageError(`--login-failures: ${(error as Error).message}`);
  }
  const pool = new WorkerPool({
    args,
    shared,
    logger,
    logFormat: settings.logFormat ??
      (process.stderr.isTTY ? "text" : "json"),
  });
  const addresses = await pool.start(count);
  announceListening(addresses);
  const metrics = await startMetricsEndpoint(settings.metrics, {
    metrics: { render: () => pool.metrics() },
    logger,
    stop: () => pool.close(),
  });
  await untilStopped(logger, {
    // Checked here first, so a broken file is reported once and no worker
    // is left half reloaded.
    reload: async () => {
      resolveOptions(await serveOptions(await loadSettings(command), logger));
      pool.post({ type: "reload" });
    },
    close: () => Promise.all([pool.close(), metrics?.close()]),
  });
  return 0;
}

interface Running {
  worker: Worker;
  exited: Promise<void>;
  /** Whether it serves yet; one still starting is stopped, not drained. */
  listening: boolean;
}

/**
 * What a {@linkcode WorkerPool} starts.
 *
 * @example
 * ```ts
 * import type { PoolInit } from "./workers.ts";
 * type Init = Omit<PoolInit, "script">;
 * ```
 */
export interface PoolInit {
  /** The command line every worker parses. */
  args: string[];
  /** The shared state. */
  shared: SharedBuffers;
  /** The one log stream. */
  logger: LineLogger;
  /** How the log lines are written. */
  logFormat: "json" | "text";
  /** The worker's module; default worker_main. */
  script?: URL;
}

/**
 * The worker threads, by column: starts them, relays their log lines and
 * counters, replaces one that dies, and drains them all.
 *
 * @example
 * ```ts
 * import { WorkerPool } from "./workers.ts";
 * console.log(typeof WorkerPool); // "function"
 * ```
 */
export class WorkerPool {
  readonly #init: PoolInit;
  readonly #running = new Map<number, Running>();
  #listen: string[] | null = null;
  #closing = false;
  #nextScrape = 0;
  readonly #scrapes = new Map<number, (column: number, text: string) => void>();

  constructor(init: PoolInit) {
    this.#init = init;
  }

  /** Starts the first worker, then the rest on the ports it bound. */
  async start(count: number): Promise<HostPort[]> {
    try {
      const addresses = await this.#spawn(0);
      this.#listen = addresses.map(formatHostPort);
      const others = [];
      for (let column = 1; column < count; column++) {
        others.push(this.#spawn(column));
      }
      await Promise.all(others);
      return addresses;
    } catch (error) {
      await this.close();
      throw error;
    }
  }

  /** Sends `message` to every worker that serves. */
  post(message: ToWorker): void {
    for (const worker of this.#serving()) worker.postMessage(message);
  }

  /**
   * Every worker's counters, summed; a worker that does not answer in
   * time counts as none.
   */
  async metrics(): Promise<string> {
    const id = this.#nextScrape++;
    const count = this.#init.shared.workers;
    const texts: string[] = new Array(count).fill("");
    let answered = 0;
    const live = this.#serving().length;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await new Promise<void>((resolve) => {
      this.#scrapes.set(id, (column, text) => {
        texts[column] = text;
        if (++answered === live) resolve();
      });
      timer = setTimeout(resolve, METRICS_WAIT_MS);
      this.post({ type: "metrics", id });
      if (live === 0) resolve();
    });
    clearTimeout(timer);
    this.#scrapes.delete(id);
    return sumExpositions(texts);
  }

  /** Drains every worker and resolves once all have exited. */
  async close(): Promise<void> {
    this.#closing = true;
    const running = [...this.#running.values()];
    this.post({ type: "close" });
    for (const { worker, listening } of running) {
      if (!listening) void worker.terminate();
    }
    await Promise.all(running.map((r) => r.exited));
  }

  #serving(): Worker[] {
    return [...this.#running.values()].filter((r) => r.listening).map((r) =>
      r.worker
    );
  }

  #spawn(column: number): Promise<HostPort[]> {
    const { args, shared, logger, logFormat } = this.#init;
    const data: WorkerData = {
      args,
      column,
      shared,
      listen: this.#listen,
      logFormat,
    };
    const extension = import.meta.url.endsWith(".ts") ? ".ts" : ".js";
    const worker = new Worker(
      this.#init.script ??
        new URL(`./worker_main${extension}`, import.meta.url),
      { workerData: data },
    );
    return new Promise((resolve, reject) => {
      const exited = new Promise<void>((onExit) => {
        worker.on("exit", (code) => {
          this.#running.delete(column);
          onExit();
          if (!running.listening) {
            reject(
              new Error(`worker ${column} exited (${code}) before listening`),
            );
            return;
          }
          if (this.#closing) return;
          logger.log({
            level: "error",
            msg: "worker died; starting another",
            worker: column,
            code,
          });
          clearWorker(shared, column);
          this.#spawn(column).catch((error) => {
            if (this.#closing) return;
            logger.log({
              level: "error",
              msg: "worker restart failed",
              worker: column,
              error: (error as Error)?.message ?? String(error),
            });
          });
        });
      });
      const running: Running = { worker, exited, listening: false };
      this.#running.set(column, running);
      worker.on("error", (error) => {
        logger.log({
          level: "error",
          msg: "worker crashed",
          worker: column,
          error: (error as Error)?.stack ?? String(error),
        });
      });
      worker.on("message", (message: FromWorker) => {
        switch (message.type) {
          case "log":
            logger.writeLines(message.chunk);
            return;
          case "listening":
            running.listening = true;
            resolve(message.addresses);
            return;
          case "metrics":
            this.#scrapes.get(message.id)?.(column, message.text);
            return;
          case "closed":
            void worker.terminate();
            return;
          case "failed":
            reject(
              message.usage
                ? new UsageError(message.message)
                : new Error(message.message),
            );
            void worker.terminate();
            return;
        }
      });
    });
  }
}
