/**
 * Counters, gauges and one histogram for the server's events, rendered in
 * the Prometheus text exposition format 0.0.4. Recording is a few additions
 * with no I/O and no clock, so the server can call it on every event; the
 * caller measures durations.
 *
 * @module
 */

/**
 * A SOCKS command as metrics label it, the same names as the access log.
 *
 * @example
 * ```ts
 * import type { CommandName } from "./metrics.ts";
 * const command: CommandName = "udp";
 * ```
 */
export type CommandName = "connect" | "bind" | "udp";

/**
 * Why the server closed a client connection right after accepting it (or,
 * for `pending_evicted`, in its handshake, to give its slot to a client
 * from a less busy address; `limit`: also a request answered 01 by a
 * per-user limit; `descriptors`: accepted with the spare descriptor while
 * the process is out of them).
 *
 * @example
 * ```ts
 * import { REFUSAL_REASONS } from "./metrics.ts";
 * console.log(REFUSAL_REASONS.includes("limit")); // true
 * ```
 */
export const REFUSAL_REASONS = [
  "rule",
  "limit",
  "throttled",
  "closing",
  "pending_per_client",
  "pending_full",
  "pending_evicted",
  "descriptors",
] as const;
/** One of {@linkcode REFUSAL_REASONS}. */
export type RefusalReason = typeof REFUSAL_REASONS[number];

/**
 * The accept failures counted apart: out of descriptors for the process
 * (EMFILE) or the system (ENFILE), and the rest.
 *
 * @example
 * ```ts
 * import { ACCEPT_ERROR_CODES } from "./metrics.ts";
 * console.log(ACCEPT_ERROR_CODES.includes("EMFILE")); // true
 * ```
 */
export const ACCEPT_ERROR_CODES = ["EMFILE", "ENFILE", "other"] as const;
/** One of {@linkcode ACCEPT_ERROR_CODES}. */
export type AcceptErrorCode = typeof ACCEPT_ERROR_CODES[number];

/**
 * Why a handshake failed, as counted in logs and metrics.
 *
 * @example
 * ```ts
 * import type { FailureReason } from "./metrics.ts";
 * const reason: FailureReason = "auth_failed";
 * ```
 */
export type FailureReason =
  | "socks4"
  | "protocol_error"
  | "no_acceptable_method"
  | "auth_failed";

/**
 * Why a handshake failed: the handshake's own reasons, the server's
 * handshake timeout, or a load balancer's connection without a valid PROXY
 * header.
 *
 * @example
 * ```ts
 * import type { HandshakeFailureReason } from "./metrics.ts";
 * const reason: HandshakeFailureReason = "timeout";
 * ```
 */
export type HandshakeFailureReason =
  | FailureReason
  | "timeout"
  | "proxy_header";

// A record rather than a list so that a reason added to FailureReason is a
// compile error here until it is listed, and so shows up at zero.
const handshakeReasons: Readonly<Record<HandshakeFailureReason, true>> = {
  auth_failed: true,
  no_acceptable_method: true,
  protocol_error: true,
  proxy_header: true,
  socks4: true,
  timeout: true,
};

const commands: readonly CommandName[] = ["bind", "connect", "udp"];

// Upper bounds in seconds: from a cached answer (~1 ms) to a resolver
// giving up (5-10 s).
const dnsBuckets: readonly number[] = [
  0.001,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
];

const PREFIX = "edgesocks_";

// One labelled time series: its rendered label set and value.
interface Series {
  readonly labels: string;
  value: number;
}

// A counter or gauge family: series keyed by their rendered label set.
class Family {
  readonly #name: string;
  readonly #help: string;
  readonly #type: "counter" | "gauge";
  readonly #labelNames: readonly string[];
  readonly #series = new Map<string, Series>();
  // The same series by raw label values: counting an event formats and
  // escapes its labels only the first time.
  readonly #byValues = new Map<string, Series>();

  constructor(
    name: string,
    help: string,
    options: { type: "counter" | "gauge"; labels?: readonly string[] },
  ) {
    this.#name = PREFIX + name;
    this.#help = help;
    this.#type = options.type;
    this.#labelNames = options.labels ?? [];
    // Unlabelled families have their one series from the start.
    if (this.#labelNames.length === 0) this.series();
  }

  series(...values: string[]): Series {
    const key = values.join("\u0000");
    const known = this.#byValues.get(key);
    if (known !== undefined) return known;
    const labels = formatLabels(this.#labelNames, values);
    let series = this.#series.get(labels);
    if (series === undefined) {
      series = { labels, value: 0 };
      this.#series.set(labels, series);
    }
    this.#byValues.set(key, series);
    return series;
  }

  render(lines: string[]): void {
    header(lines, this.#name, this.#help, this.#type);
    // Sorted, so the output does not depend on the order events came in.
    const keys = [...this.#series.keys()].sort();
    for (const key of keys) {
      lines.push(
        `${this.#name}${key} ${formatValue(this.#series.get(key)!.value)}`,
      );
    }
  }
}

// An unlabelled histogram with fixed buckets.
class Histogram {
  readonly #name: string;
  readonly #help: string;
  readonly #bounds: readonly number[];
  // Per bucket, not cumulative; the last slot is above every bound.
  readonly #counts: number[];
  #sum = 0;
  #count = 0;

  constructor(name: string, help: string, bounds: readonly number[]) {
    this.#name = PREFIX + name;
    this.#help = help;
    this.#bounds = bounds;
    this.#counts = new Array<number>(bounds.length + 1).fill(0);
  }

  observe(value: number): void {
    let index = 0;
    while (index < this.#bounds.length && value > this.#bounds[index]!) {
      index++;
    }
    this.#counts[index]!++;
    this.#sum += value;
    this.#count++;
  }

  render(lines: string[]): void {
    header(lines, this.#name, this.#help, "histogram");
    let cumulative = 0;
    this.#bounds.forEach((bound, index) => {
      cumulative += this.#counts[index]!;
      lines.push(
        `${this.#name}_bucket{le="${formatValue(bound)}"} ${cumulative}`,
      );
    });
    lines.push(`${this.#name}_bucket{le="+Inf"} ${this.#count}`);
    lines.push(`${this.#name}_sum ${formatValue(this.#sum)}`);
    lines.push(`${this.#name}_count ${this.#count}`);
  }
}

/**
 * The server's metrics. Each method records one kind of event; `render()`
 * gives them all as a Prometheus scrape body. Every family is rendered from
 * the start, at zero, and so is every series of a small fixed label set
 * (directions, commands, reasons), so a scraper never sees one appear.
 *
 * @example
 * ```ts
 * import { Metrics } from "./metrics.ts";
 * const metrics = new Metrics();
 * metrics.connectionAccepted();
 * metrics.reply("connect", 0x05);
 * metrics.bytes({ up: 120, down: 4096 });
 * metrics.dnsLookup(0.003, true);
 * console.log(metrics.render().includes('edgesocks_bytes_total{direction="down"} 4096')); // true
 * ```
 */
export class Metrics {
  readonly #accepted = new Family(
    "connections_accepted_total",
    "Client connections accepted and served.",
    { type: "counter" },
  );
  readonly #active = new Family(
    "connections_active",
    "Client connections open now, in their handshake or relaying.",
    { type: "gauge" },
  );
  readonly #refused = new Family(
    "connections_refused_total",
    "Clients refused, by reason: closed right after accept, or answered 01 when a per-user limit stops their request.",
    { type: "counter", labels: ["reason"] },
  );
  readonly #acceptErrors = new Family(
    "accept_errors_total",
    "Failed accepts on the listeners, by error code (EMFILE, ENFILE, other).",
    { type: "counter", labels: ["code"] },
  );
  readonly #handshakesFailed = new Family(
    "handshakes_failed_total",
    "SOCKS handshakes that failed, by reason.",
    { type: "counter", labels: ["reason"] },
  );
  readonly #authFailures = new Family(
    "auth_failures_total",
    "Username/password logins rejected.",
    { type: "counter" },
  );
  readonly #throttled = new Family(
    "logins_throttled_total",
    "Logins refused by the login throttle.",
    { type: "counter" },
  );
  readonly #replies = new Family(
    "replies_total",
    "SOCKS replies sent, by command and reply code in hex.",
    { type: "counter", labels: ["command", "code"] },
  );
  readonly #bytes = new Family(
    "bytes_total",
    "Bytes relayed: up from clients, down to clients.",
    { type: "counter", labels: ["direction"] },
  );
  readonly #tunnels = new Family(
    "tunnels_total",
    "Tunnels opened, by command.",
    { type: "counter", labels: ["command"] },
  );
  readonly #tunnelsActive = new Family(
    "tunnels_active",
    "Tunnels open now, by command.",
    { type: "gauge", labels: ["command"] },
  );
  readonly #datagrams = new Family(
    "udp_datagrams_total",
    "UDP datagrams relayed up from clients, down to clients, or dropped.",
    { type: "counter", labels: ["direction"] },
  );
  readonly #dnsDuration = new Histogram(
    "dns_lookup_duration_seconds",
    "Time taken to resolve destination names, failed lookups included.",
    dnsBuckets,
  );
  readonly #dnsFailures = new Family(
    "dns_lookup_failures_total",
    "Destination name lookups that failed.",
    { type: "counter" },
  );
  readonly #logDropped = new Family(
    "log_lines_dropped_total",
    "Log lines dropped because the log output fell too far behind.",
    { type: "counter" },
  );
  #log: { readonly dropped: number } | null = null;

  // Series touched per chunk or per datagram, looked up once.
  readonly #bytesUp = this.#bytes.series("up");
  readonly #bytesDown = this.#bytes.series("down");
  readonly #datagramsUp = this.#datagrams.series("up");
  readonly #datagramsDown = this.#datagrams.series("down");
  readonly #datagramsDropped = this.#datagrams.series("dropped");

  constructor() {
    for (const reason of REFUSAL_REASONS) this.#refused.series(reason);
    for (const code of ACCEPT_ERROR_CODES) this.#acceptErrors.series(code);
    for (const reason of Object.keys(handshakeReasons)) {
      this.#handshakesFailed.series(reason);
    }
    for (const command of commands) {
      this.#tunnels.series(command);
      this.#tunnelsActive.series(command);
    }
  }

  /**
   * A client connection was accepted and will be served: counted, and
   * active until {@linkcode Metrics.connectionClosed}. A connection closed
   * at once is {@linkcode Metrics.connectionRefused} instead.
   */
  connectionAccepted(): void {
    this.#accepted.series().value++;
    this.#active.series().value++;
  }

  /** A connection counted by `connectionAccepted()` has closed. */
  connectionClosed(): void {
    this.#active.series().value--;
  }

  /** A client connection was closed right after accept, for `reason`. */
  connectionRefused(reason: RefusalReason): void {
    this.#refused.series(reason).value++;
  }

  /** Accepting a client failed with `code`. */
  acceptFailed(code: AcceptErrorCode): void {
    this.#acceptErrors.series(code).value++;
  }

  /** A handshake failed, for `reason`. */
  handshakeFailed(reason: HandshakeFailureReason): void {
    this.#handshakesFailed.series(reason).value++;
  }

  /** A username/password login was rejected. */
  authFailed(): void {
    this.#authFailures.series().value++;
  }

  /** A login was refused by the login throttle. */
  loginThrottled(): void {
    this.#throttled.series().value++;
  }

  /** A reply with `code` (e.g. `0x05`) was sent for `command`. */
  reply(command: CommandName, code: number): void {
    this.#replies.series(command, hexByte(code)).value++;
  }

  /**
   * Bytes relayed since the last call: `up` from the client, `down` to it.
   * Call per chunk or once per tunnel, not both.
   */
  bytes(counts: { up?: number; down?: number }): void {
    add(this.#bytesUp, counts.up);
    add(this.#bytesDown, counts.down);
  }

  /** A tunnel for `command` opened: counted, and active until closed. */
  tunnelOpened(command: CommandName): void {
    this.#tunnels.series(command).value++;
    this.#tunnelsActive.series(command).value++;
  }

  /** A tunnel counted by `tunnelOpened(command)` has closed. */
  tunnelClosed(command: CommandName): void {
    this.#tunnelsActive.series(command).value--;
  }

  /**
   * UDP datagrams since the last call: relayed `up` from the client,
   * `down` to it, or `dropped`.
   */
  datagrams(counts: { up?: number; down?: number; dropped?: number }): void {
    add(this.#datagramsUp, counts.up);
    add(this.#datagramsDown, counts.down);
    add(this.#datagramsDropped, counts.dropped);
  }

  /**
   * A name lookup took `seconds` and succeeded (`ok`) or failed. A
   * negative or non-finite time (a clock step) counts as 0.
   */
  dnsLookup(seconds: number, ok: boolean): void {
    this.#dnsDuration.observe(
      Number.isFinite(seconds) && seconds > 0 ? seconds : 0,
    );
    if (!ok) this.#dnsFailures.series().value++;
  }

  /**
   * Reports `log.dropped` (a batching logger's count of dropped lines) as
   * `edgesocks_log_lines_dropped_total`, read at each render.
   */
  observeLog(log: { readonly dropped: number }): void {
    this.#log = log;
  }

  /**
   * Every metric in the Prometheus text format 0.0.4, in a fixed order,
   * ending with a newline.
   */
  render(): string {
    const lines: string[] = [];
    this.#accepted.render(lines);
    this.#active.render(lines);
    this.#refused.render(lines);
    this.#acceptErrors.render(lines);
    this.#handshakesFailed.render(lines);
    this.#authFailures.render(lines);
    this.#throttled.render(lines);
    this.#replies.render(lines);
    this.#bytes.render(lines);
    this.#tunnels.render(lines);
    this.#tunnelsActive.render(lines);
    this.#datagrams.render(lines);
    this.#dnsDuration.render(lines);
    this.#dnsFailures.render(lines);
    if (this.#log !== null) this.#logDropped.series().value = this.#log.dropped;
    this.#logDropped.render(lines);
    return lines.join("\n") + "\n";
  }
}

// Counters only go up: a missing, negative or non-finite amount is ignored.
function add(series: Series, amount: number | undefined): void {
  if (amount !== undefined && amount > 0 && Number.isFinite(amount)) {
    series.value += amount;
  }
}

function hexByte(code: number): string {
  return (code & 0xff).toString(16).padStart(2, "0");
}

function header(
  lines: string[],
  name: string,
  help: string,
  type: string,
): void {
  // The format escapes only backslash and newline in HELP text.
  const escaped = help.replaceAll("\\", "\\\\").replaceAll("\n", "\\n");
  lines.push(`# HELP ${name} ${escaped}`, `# TYPE ${name} ${type}`);
}

function formatLabels(names: readonly string[], values: string[]): string {
  if (names.length === 0) return "";
  const pairs = names.map((name, index) =>
    `${name}="${escapeLabelValue(values[index] ?? "")}"`
  );
  return `{${pairs.join(",")}}`;
}

function escapeLabelValue(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll('"', '\\"')
    .replaceAll("\n", "\\n");
}

function formatValue(value: number): string {
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}
