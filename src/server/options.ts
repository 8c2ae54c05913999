/**
 * The options of `serve()`, their defaults, and the checks that turn a bad
 * value into an error naming the option.
 *
 * @module
 */

import type { Authenticate } from "../auth/authenticate.ts";
import { credentialsAuthenticator } from "../auth/credentials.ts";
import {
  type Cidr,
  cidrContains,
  parseCidr,
  type Rule,
  RuleSet,
} from "../rules/mod.ts";
import type { Network } from "../net/connection.ts";
import { LIMIT_KINDS, type LimitOptions } from "./limits.ts";
import { createLogger, type Logger } from "../observe/logger.ts";
import type { ThrottleOptions } from "../auth/login_throttle.ts";
import {
  type HostPort,
  parseHostPort,
  parseIPv4,
  parseIPv6,
  toSocksAddress,
} from "../wire/address.ts";
import { AuthMethod } from "../wire/constants.ts";
import { parseProxyUrl, type ProxyOptions } from "../client/url.ts";

/**
 * Options of `serve()`. Durations are milliseconds.
 *
 * @example
 * ```ts
 * import type { ServeOptions } from "./options.ts";
 * const options: ServeOptions = {
 *   listen: ["127.0.0.1:1080", "[::1]:1080"],
 *   users: { alice: "s3cret" },
 * };
 * ```
 */
export interface ServeOptions {
  /**
   * Threads serving the listen addresses: `serve()` runs one (the
   * default). For more, run the `edgesocks` command with `--workers N`,
   * which shares sessions, limits and logins between them.
   */
  workers?: number;
  /** Where to listen; default `127.0.0.1:1080`. Port 0 picks a free one. */
  listen?: string | HostPort | ReadonlyArray<string | HostPort>;
  /** Username → password. With users (or `authenticate`), login is required. */
  users?: Readonly<Record<string, string>> | ReadonlyMap<string, string>;
  /** Decides logins instead of `users`. */
  authenticate?: Authenticate;
  /** Serve without login even on a non-loopback address. */
  noAuth?: boolean;
  /**
   * Networks (CIDR) whose clients may skip login while everyone else logs
   * in: both methods are offered to them, and a client that offers only
   * "no authentication" (as browsers do) gets it.
   */
  allowNoAuth?: readonly string[];
  /**
   * Access rules, first match decides; see `RULE_GRAMMAR`. Link-local,
   * unspecified, multicast and broadcast destinations (and loopback ones
   * when a listen address is not loopback) are denied unless a rule that
   * names the destination allows them.
   */
  rules?: readonly Rule[];
  /** From accept to a complete request; default 10 000. */
  handshakeTimeout?: number;
  /** Resolving and connecting to a destination; default 10 000. */
  connectTimeout?: number;
  /** Closes tunnels idle this long; default 0, never. */
  idleTimeout?: number;
  /** How long `close()` lets tunnels finish; default 5 000. */
  gracePeriod?: number;
  /** How long a BIND waits for its incoming connection; default 60 000. */
  bindTimeout?: number;
  /** Ports BIND listens on, `[low, high]` inclusive; default: any free one. */
  bindPorts?: readonly [number, number];
  /** Let BIND serve clients without an open CONNECT tunnel; default false. */
  bindWithoutSession?: boolean;
  /**
   * The IP address BIND listens on and UDP ASSOCIATE advertises, for a
   * server behind NAT. Default: the interface in use (see README).
   */
  externalAddress?: string;
  /**
   * Load balancers (CIDR) that send the PROXY protocol: a connection from
   * one must open with a version 1 or 2 header, and the client it names is
   * the client for rules, limits, throttling, sessions and the access log.
   * A header from any other address is a bad greeting like any other.
   */
  proxyProtocol?: readonly string[];
  /**
   * Caps on concurrent use; zero means none. Absent means none too,
   * except `maxPendingHandshakes` (1 024) and
   * `maxPendingHandshakesPerClient` (64), so stalled clients cannot pile
   * up without end nor one address take every slot, and
   * `maxConnections`, derived from the process's descriptor limit where
   * the runtime tells it (see README).
   */
  limits?: LimitOptions;
  /**
   * Bits of an IPv6 client address that name one client for
   * `maxPendingHandshakesPerClient`; default 64, as one host usually has
   * a whole /64.
   */
  clientIpv6Prefix?: number;
  /**
   * Refuse a client address for `block` ms after `failures` failed logins
   * within `window` ms; default 5 in 60 000, blocked for 300 000. `false`
   * turns it off.
   */
  loginThrottle?: Partial<Omit<ThrottleOptions, "now">> | false;
  /**
   * Send every CONNECT through this SOCKS5 proxy (`socks5h://` passes
   * names on for it to resolve; `socks5://` resolves them here). BIND and
   * UDP ASSOCIATE are still served from this host. Fixed at start.
   */
  upstream?: string | ProxyOptions;
  /** Where records go; default: warnings and errors as JSON on stderr. */
  logger?: Logger;
  /** The runtime's network; default: the adapter of the running runtime. */
  network?: Network;
}

/**
 * Options with defaults applied and values checked.
 *
 * @example
 * ```ts
 * import { resolveOptions } from "./options.ts";
 * const config = resolveOptions({ listen: "127.0.0.1:0" });
 * console.log(config.methodsFor("127.0.0.1")); // [ 0 ]
 * ```
 */
export interface ServerConfig {
  /** Addresses to listen on. */
  listen: HostPort[];
  /** Checks logins; `null` when no login is asked. */
  authenticate: Authenticate | null;
  /** Methods offered to a client, preferred first. */
  methodsFor(clientIp: string): readonly number[];
  /** The access rules with the defaults. */
  rules: RuleSet;
  /** See {@linkcode ServeOptions}. */
  handshakeTimeout: number;
  /** See {@linkcode ServeOptions}. */
  connectTimeout: number;
  /** See {@linkcode ServeOptions}. */
  idleTimeout: number;
  /** See {@linkcode ServeOptions}. */
  gracePeriod: number;
  /** See {@linkcode ServeOptions}. */
  bindTimeout: number;
  /** See {@linkcode ServeOptions}; `null`: any free port. */
  bindPorts: readonly [number, number] | null;
  /** See {@linkcode ServeOptions}. */
  bindWithoutSession: boolean;
  /** See {@linkcode ServeOptions}; `null`: the interface in use. */
  externalAddress: string | null;
  /** Whether a connection from `peerIp` must open with a PROXY header. */
  sendsProxyHeader(peerIp: string): boolean;
  /** See {@linkcode ServeOptions}, with defaults applied. */
  limits: Required<LimitOptions>;
  /** See {@linkcode ServeOptions}. */
  clientIpv6Prefix: number;
  /** See {@linkcode ServeOptions}; `failures: 0` when off. */
  loginThrottle: Omit<ThrottleOptions, "now">;
  /** See {@linkcode ServeOptions}; `null`: connect directly. */
  upstream: ProxyOptions | null;
  /** See {@linkcode ServeOptions}. */
  logger: Logger;
}

/**
 * Applies defaults and checks every option.
 *
 * @throws {TypeError} Naming the option and what is wrong with it, also
 * when no login is configured on a non-loopback address without `noAuth`.
 *
 * @example
 * ```ts
 * import { resolveOptions } from "./options.ts";
 * try {
 *   resolveOptions({ listen: "0.0.0.0:1080" });
 * } catch (error) {
 *   console.log((error as Error).message.startsWith("Invalid option")); // true
 * }
 * ```
 */
export function resolveOptions(options: ServeOptions): ServerConfig {
  if (options.workers !== undefined && options.workers !== 1) {
    throw new TypeError(
      "Invalid option workers: serve() runs one worker; for more, run the edgesocks command with --workers N",
    );
  }
  const listen = resolveListen(options.listen ?? "127.0.0.1:1080");
  const authenticate = resolveAuthenticate(options);
  if (
    authenticate === null && options.noAuth !== true &&
    !listen.every((address) => isLoopback(address.host))
  ) {
    throw new TypeError(
      "Invalid option noAuth: refusing to serve without login on a non-loopback address; configure users or pass noAuth (--no-auth) explicitly",
    );
  }
  const loopbackOnly = listen.every((address) => isLoopback(address.host));
  return {
    listen,
    authenticate,
    methodsFor: methodsFor(authenticate !== null, resolveAllowNoAuth(options)),
    rules: resolveRules(options.rules, loopbackOnly),
    handshakeTimeout: duration(options, "handshakeTimeout", 10_000),
    connectTimeout: duration(options, "connectTimeout", 10_000),
    idleTimeout: duration(options, "idleTimeout", 0),
    gracePeriod: duration(options, "gracePeriod", 5_000),
    bindTimeout: duration(options, "bindTimeout", 60_000),
    bindPorts: resolveBindPorts(options.bindPorts),
    bindWithoutSession: options.bindWithoutSession === true,
    externalAddress: resolveExternalAddress(options.externalAddress),
    sendsProxyHeader: inAny(resolveCidrs(options, "proxyProtocol")),
    limits: resolveLimits(options.limits),
    clientIpv6Prefix: resolvePrefix(options.clientIpv6Prefix),
    loginThrottle: resolveThrottle(options.loginThrottle),
    upstream: resolveUpstream(options.upstream),
    logger: options.logger ??
      createLogger({ level: "warn", format: "json", write: console.error }),
  };
}

/**
 * Whether host text names this machine's loopback: 127.0.0.0/8, ::1 or
 * `localhost`.
 *
 * @example
 * ```ts
 * import { isLoopback } from "./options.ts";
 * console.log(isLoopback("127.0.0.2"), isLoopback("::"), isLoopback("localhost")); // true false true
 * ```
 */
export function isLoopback(host: string): boolean {
  if (host === "localhost") return true;
  const v4 = parseIPv4(host);
  if (v4 !== null) return v4[0] === 127;
  const v6 = parseIPv6(host);
  return v6 !== null && v6.every((byte, i) => byte === (i === 15 ? 1 : 0));
}

function resolveListen(
  listen: NonNullable<ServeOptions["listen"]>,
): HostPort[] {
  const list = typeof listen === "string" || !Array.isArray(listen)
    ? [listen as string | HostPort]
    : listen as ReadonlyArray<string | HostPort>;
  if (list.length === 0) {
    throw new TypeError("Invalid option listen: give at least one address");
  }
  return list.map((entry) => {
    try {
      const address = typeof entry === "string" ? parseHostPort(entry) : entry;
      if (
        !Number.isInteger(address.port) || address.port < 0 ||
        address.port > 65535
      ) {
        throw new TypeError(`port ${address.port} is not in 0-65535`);
      }
      return { host: address.host, port: address.port };
    } catch (error) {
      throw new TypeError(
        `Invalid option listen: ${
          (error as Error).message.replace(/^Cannot parse address: /, "")
        }`,
      );
    }
  });
}

function resolveAuthenticate(options: ServeOptions): Authenticate | null {
  if (options.authenticate !== undefined) {
    if (typeof options.authenticate !== "function") {
      throw new TypeError("Invalid option authenticate: it is not a function");
    }
    return options.authenticate;
  }
  if (options.users === undefined) return null;
  const users = options.users instanceof Map
    ? options.users as ReadonlyMap<string, string>
    : new Map(Object.entries(options.users));
  // An empty table must not quietly turn login off.
  if (users.size === 0) {
    throw new TypeError("Invalid option users: it lists no users");
  }
  for (const [name, password] of users) {
    if (typeof password !== "string") {
      throw new TypeError(
        `Invalid option users: password of "${name}" is not a string`,
      );
    }
  }
  try {
    return credentialsAuthenticator(users);
  } catch (error) {
    throw new TypeError(`Invalid option users: ${(error as Error).message}`);
  }
}

function methodsFor(
  login: boolean,
  allowNoAuth: readonly Cidr[],
): (clientIp: string) => readonly number[] {
  const loginOnly = [AuthMethod.UserPass];
  // Login first: a client that can log in does, so the log names its user.
  const either = [AuthMethod.UserPass, AuthMethod.NoAuth];
  if (!login) return () => [AuthMethod.NoAuth];
  if (allowNoAuth.length === 0) return () => loginOnly;
  return (clientIp) =>
    allowNoAuth.some((cidr) => cidrContains(cidr, clientIp))
      ? either
      : loginOnly;
}

function resolveAllowNoAuth(options: ServeOptions): Cidr[] {
  return resolveCidrs(options, "allowNoAuth");
}

function resolveCidrs(
  options: ServeOptions,
  name: "allowNoAuth" | "proxyProtocol",
): Cidr[] {
  const list = options[name] ?? [];
  if (!Array.isArray(list)) {
    throw new TypeError(`Invalid option ${name}: it is not a list of CIDRs`);
  }
  return list.map((text, i) => {
    try {
      return parseCidr(String(text));
    } catch (error) {
      throw new TypeError(
        `Invalid option ${name}[${i}]: ${(error as Error).message}`,
      );
    }
  });
}

function inAny(cidrs: readonly Cidr[]): (ip: string) => boolean {
  if (cidrs.length === 0) return () => false;
  return (ip) => cidrs.some((cidr) => cidrContains(cidr, ip));
}

function resolveRules(
  rules: ServeOptions["rules"] = [],
  loopbackOnly: boolean,
): RuleSet {
  if (!Array.isArray(rules)) {
    throw new TypeError("Invalid option rules: it is not a list of rules");
  }
  // A server reachable from other hosts must not hand them this host's
  // loopback services.
  return new RuleSet(rules, { denyLoopback: !loopbackOnly });
}

function duration(
  options: ServeOptions,
  key:
    | "handshakeTimeout"
    | "connectTimeout"
    | "idleTimeout"
    | "gracePeriod"
    | "bindTimeout",
  fallback: number,
): number {
  const value = options[key] ?? fallback;
  // setTimeout clamps above 2^31-1 ms to 1 ms, so a huge value would fire at once.
  if (!Number.isFinite(value) || value < 0 || value > 2_147_483_647) {
    throw new TypeError(
      `Invalid option ${key}: ${value} is not a duration in ms (0-2147483647)`,
    );
  }
  return value;
}

function resolveBindPorts(
  ports: ServeOptions["bindPorts"],
): readonly [number, number] | null {
  if (ports === undefined) return null;
  const [low, high] = Array.isArray(ports) ? ports : [];
  const isPort = (n: unknown) =>
    Number.isInteger(n) && (n as number) >= 1 && (n as number) <= 65535;
  if (!isPort(low) || !isPort(high) || low! > high!) {
    throw new TypeError(
      `Invalid option bindPorts: ${
        JSON.stringify(ports)
      } is not [low, high] with 1 <= low <= high <= 65535`,
    );
  }
  return [low!, high!];
}

function resolveExternalAddress(address: unknown): string | null {
  if (address === undefined) return null;
  if (
    typeof address !== "string" ||
    (parseIPv4(address) === null && parseIPv6(address) === null)
  ) {
    throw new TypeError(
      `Invalid option externalAddress: ${
        JSON.stringify(address)
      } is not an IPv4 or IPv6 address`,
    );
  }
  return toSocksAddress(address, 0).host;
}

function resolveLimits(limits: LimitOptions = {}): Required<LimitOptions> {
  if (typeof limits !== "object" || limits === null) {
    throw new TypeError("Invalid option limits: it is not an object");
  }
  for (const key of Object.keys(limits)) {
    if (!(LIMIT_KINDS as readonly string[]).includes(key)) {
      throw new TypeError(
        `Invalid option limits.${key}: there is no such limit; limits are ${
          LIMIT_KINDS.join(", ")
        }`,
      );
    }
  }
  const resolved = { ...DEFAULT_LIMITS };
  for (const kind of LIMIT_KINDS) {
    const value = limits[kind] ?? DEFAULT_LIMITS[kind];
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new TypeError(
        `Invalid option limits.${kind}: ${value} is not a whole number >= 0`,
      );
    }
    resolved[kind] = value;
  }
  return resolved;
}

const DEFAULT_LIMITS: Required<LimitOptions> = {
  maxConnections: 0,
  maxConnectionsPerClient: 0,
  maxConnectionsPerUser: 0,
  maxPendingHandshakes: 1024,
  maxPendingHandshakesPerClient: 64,
  maxBindsPerUser: 0,
  maxUdpPerUser: 0,
};

function resolvePrefix(prefix: number | undefined): number {
  if (prefix === undefined) return 64;
  if (!Number.isInteger(prefix) || prefix < 1 || prefix > 128) {
    throw new TypeError(
      `Invalid option clientIpv6Prefix: ${prefix} is not a prefix length (1-128)`,
    );
  }
  return prefix;
}

function resolveThrottle(
  throttle: ServeOptions["loginThrottle"],
): Omit<ThrottleOptions, "now"> {
  if (throttle === false) return { failures: 0, window: 0, block: 0 };
  const resolved = { failures: 5, window: 60_000, block: 300_000, ...throttle };
  for (const key of ["failures", "window", "block"] as const) {
    const value = resolved[key];
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new TypeError(
        `Invalid option loginThrottle.${key}: ${value} is not a whole number >= 0`,
      );
    }
  }
  return resolved;
}

function resolveUpstream(
  upstream: ServeOptions["upstream"],
): ProxyOptions | null {
  if (upstream === undefined) return null;
  if (typeof upstream !== "string") return upstream;
  try {
    return parseProxyUrl(upstream);
  } catch (error) {
    throw new TypeError(`Invalid option upstream: ${(error as Error).message}`);
  }
}
