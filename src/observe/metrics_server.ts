/**
 * A minimal HTTP/1.1 endpoint for Prometheus scrapes, over the runtime
 * contract of `connection.ts` rather than any runtime's HTTP server, so it
 * runs unchanged wherever the SOCKS server does. One request per
 * connection: read the head, answer, close.
 *
 * @module
 */

import { concat, utf8 } from "../bytes.ts";
import type { Connection, Listener, Network } from "../net/connection.ts";
import type { Logger } from "./logger.ts";
import { formatHostPort, type HostPort } from "../wire/address.ts";

/**
 * Options of {@linkcode serveMetrics}.
 *
 * @example
 * ```ts
 * import type { MetricsServerOptions } from "./metrics_server.ts";
 * import { Metrics } from "./metrics.ts";
 * const options: MetricsServerOptions = {
 *   address: { host: "127.0.0.1", port: 9464 },
 *   metrics: new Metrics(),
 * };
 * ```
 */
export interface MetricsServerOptions {
  /** Where to listen; port 0 picks a free one. */
  address: HostPort;
  /** What to expose: a {@linkcode Metrics} or anything that renders. */
  metrics: { render(): string | Promise<string> };
  /** Gets accept errors and the listening address; none by default. */
  logger?: Logger;
  /**
   * Milliseconds a connection may take, from accept to the response sent
   * and the client gone, before it is closed. Default 5000.
   */
  requestTimeout?: number;
}

/**
 * A running metrics endpoint.
 *
 * @example
 * ```ts
 * import type { MetricsServer } from "./metrics_server.ts";
 * async function stop(server: MetricsServer) {
 *   console.log(server.address.port);
 *   await server.close();
 * }
 * ```
 */
export interface MetricsServer {
  /** The bound address, with the real port. */
  readonly address: HostPort;
  /**
   * Stops listening and closes open connections; resolves once no socket
   * or timer is left. Idempotent.
   */
  close(): Promise<void>;
}

/** The most bytes a request head may take, its final blank line included. */
const MAX_HEAD = 8 * 1024;
// After the response, what a client may still send (a body, pipelined
// requests) is read and dropped rather than left unread: closing with
// unread bytes resets the connection, and a reset can destroy the
// response before the client has read it.
const MAX_DRAIN = 64 * 1024;
const DEFAULT_TIMEOUT = 5_000;
const TERMINATOR = [13, 10, 13, 10];

const CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

const statusText: Readonly<Record<number, string>> = {
  200: "OK",
  400: "Bad Request",
  404: "Not Found",
  405: "Method Not Allowed",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
};

// RFC 9112 §3: method SP request-target SP HTTP-version. The method is an
// RFC 9110 token; the target any visible ASCII.
const REQUEST_LINE =
  /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+) ([\x21-\x7e]+) HTTP\/1\.[0-9]$/;

type Head =
  | { type: "head"; text: string }
  | { type: "too_large" }
  | { type: "closed" };

interface Response {
  status: number;
  headers: string[];
  body: string;
  /** A response to HEAD: the headers of GET's, no body. */
  bodyless?: boolean;
}

/**
 * Serves `metrics.render()` at `GET /metrics` (and `HEAD`) on
 * `options.address`: 404 for other paths, 405 for other methods, 400 for a
 * malformed request line, 431 for a head over 8 KiB; a connection that
 * stays silent past the timeout is closed.
 *
 * @example
 * ```ts
 * import { serveMetrics } from "./metrics_server.ts";
 * import { Metrics } from "./metrics.ts";
 * import type { Network } from "../net/connection.ts";
 * async function expose(network: Network, metrics: Metrics) {
 *   const server = await serveMetrics(network, {
 *     address: { host: "127.0.0.1", port: 9464 },
 *     metrics,
 *   });
 *   return server; // curl http://127.0.0.1:9464/metrics
 * }
 * ```
 */
export async function serveMetrics(
  network: Network,
  options: MetricsServerOptions,
): Promise<MetricsServer> {
  const listener = await network.listen(options.address);
  const server = new Endpoint(listener, options);
  options.logger?.log({
    level: "info",
    msg: "metrics listening",
    address: formatHostPort(listener.address),
  });
  return server;
}

class Endpoint implements MetricsServer {
  readonly #listener: Listener;
  readonly #metrics: { render(): string | Promise<string> };
  readonly #logger: Logger | undefined;
  readonly #timeout: number;
  readonly #open = new Map<Connection, Promise<void>>();
  readonly #acceptLoop: Promise<void>;
  #closing: Promise<void> | null = null;

  constructor(listener: Listener, options: MetricsServerOptions) {
    this.#listener = listener;
    this.#metrics = options.metrics;
    this.#logger = options.logger;
    this.#timeout = options.requestTimeout ?? DEFAULT_TIMEOUT;
    this.#acceptLoop = this.#accept();
  }

  get address(): HostPort {
    return { ...this.#listener.address };
  }

  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    this.#listener.close();
    await this.#acceptLoop;
    for (const conn of this.#open.keys()) conn.close();
    await Promise.all(this.#open.values());
  }

  async #accept(): Promise<void> {
    for (;;) {
      let conn: Connection | null;
      try {
        conn = await this.#listener.accept();
      } catch (error) {
        // Transient (EMFILE, a client reset before accept): keep serving.
        this.#logger?.log({
          level: "warn",
          msg: "metrics accept failed",
          error: errorText(error),
        });
        continue;
      }
      if (conn === null) return;
      if (this.#closing !== null) {
        conn.close();
        continue;
      }
      const accepted = conn;
      this.#open.set(
        accepted,
        this.#serve(accepted).finally(() => this.#open.delete(accepted)),
      );
    }
  }

  // Never rejects; always closes `conn` and clears its timer.
  async #serve(conn: Connection): Promise<void> {
    // One deadline for the whole exchange: closing makes every pending
    // read give null and every write resolve, so nothing below outlives it.
    const timer = setTimeout(() => conn.close(), this.#timeout);
    try {
      const head = await readHead(conn);
      if (head.type === "closed") return;
      const response = head.type === "too_large"
        ? errorResponse(431)
        : await this.#respond(head.text);
      await conn.write(encodeResponse(response));
      await conn.closeWrite();
      await drain(conn);
    } catch (error) {
      this.#logger?.log({
        level: "debug",
        msg: "metrics connection failed",
        client: formatHostPort(conn.remoteAddress),
        error: errorText(error),
      });
    } finally {
      clearTimeout(timer);
      conn.close();
    }
  }

  async #respond(head: string): Promise<Response> {
    // RFC 9112 §2.2: empty lines before the request line are ignored.
    const requestLine = head.replace(/^(\r\n)+/, "").split("\r\n", 1)[0]!;
    const match = REQUEST_LINE.exec(requestLine);
    if (match === null) return errorResponse(400);
    const method = match[1]!;
    const path = match[2]!.split("?", 1)[0]!;
    const isHead = method === "HEAD";
    if (path !== "/metrics") return { ...errorResponse(404), bodyless: isHead };
    if (method !== "GET" && !isHead) {
      const response = errorResponse(405);
      return {
        ...response,
        headers: [...response.headers, "Allow: GET, HEAD"],
      };
    }
    let body: string;
    try {
      body = await this.#metrics.render();
    } catch (error) {
      this.#logger?.log({
        level: "error",
        msg: "metrics render failed",
        error: errorText(error),
      });
      return { ...errorResponse(500), bodyless: isHead };
    }
    return {
      status: 200,
      body,
      headers: [`Content-Type: ${CONTENT_TYPE}`],
      bodyless: isHead,
    };
  }
}

// Reads until the blank line that ends the head, keeping at most MAX_HEAD
// bytes; what follows it is ignored.
async function readHead(conn: Connection): Promise<Head> {
  let buffer: Uint8Array = new Uint8Array(0);
  for (;;) {
    const chunk = await conn.read();
    if (chunk === null) return { type: "closed" };
    const searchFrom = Math.max(0, buffer.length - (TERMINATOR.length - 1));
    buffer = concat([buffer, chunk.subarray(0, MAX_HEAD - buffer.length)]);
    const end = indexOfTerminator(buffer, searchFrom);
    if (end !== -1) {
      return { type: "head", text: latin1(buffer.subarray(0, end)) };
    }
    if (buffer.length >= MAX_HEAD) return { type: "too_large" };
  }
}

function indexOfTerminator(bytes: Uint8Array, from: number): number {
  for (let i = from; i + TERMINATOR.length <= bytes.length; i++) {
    if (
      bytes[i] === 13 && bytes[i + 1] === 10 && bytes[i + 2] === 13 &&
      bytes[i + 3] === 10
    ) {
      return i;
    }
  }
  return -1;
}

// Header bytes are octets (RFC 9110 §5.5), not UTF-8: one char each.
function latin1(bytes: Uint8Array): string {
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return text;
}

// Reads and drops what the client still sends, until it closes or
// MAX_DRAIN bytes have come.
async function drain(conn: Connection): Promise<void> {
  let drained = 0;
  while (drained < MAX_DRAIN) {
    const chunk = await conn.read();
    if (chunk === null) return;
    drained += chunk.length;
  }
}

function errorResponse(status: number): Response {
  return {
    status,
    body: `${statusText[status]}\n`,
    headers: ["Content-Type: text/plain; charset=utf-8"],
  };
}

function encodeResponse(response: Response): Uint8Array {
  const body = utf8(response.body);
  const lines = [
    `HTTP/1.1 ${response.status} ${statusText[response.status]}`,
    ...response.headers,
    `Content-Length: ${body.length}`,
    "Connection: close",
    "",
    "",
  ];
  const head = utf8(lines.join("\r\n"));
  return response.bodyless === true ? head : concat([head, body]);
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
