/**
 * A running server: listeners, the accept loops, and shutdown that lets
 * tunnels finish before it closes what is left.
 *
 * @module
 */

import type { Connection, Listener, Network } from "../net/connection.ts";
import {
  resolveOptions,
  type ServeOptions,
  type ServerConfig,
} from "./options.ts";
import type { ConnectionScope, ServerState } from "./context.ts";
import { serveConnection } from "./serve_connection.ts";
import { SessionTable } from "./sessions.ts";
import { admitBalancer, admitClient, refuseClient } from "./admission.ts";
import { type LimitOptions, Limits } from "./limits.ts";
import { PendingHandshakes, type PendingOptions } from "./pending.ts";
import { AcceptGuard } from "./accept_guard.ts";
import { descriptorBudget, DESCRIPTORS_PER_CLIENT } from "./descriptors.ts";
import { Metrics } from "../observe/metrics.ts";
import { upstreamNetwork } from "./upstream.ts";
import { LoginThrottle, type ThrottleOptions } from "../auth/login_throttle.ts";
import { formatHostPort, type HostPort } from "../wire/address.ts";

/**
 * Options of {@linkcode Server.close}.
 *
 * @example
 * ```ts
 * import type { CloseOptions } from "./server.ts";
 * const options: CloseOptions = { gracePeriod: 0 };
 * ```
 */
export interface CloseOptions {
  /** Overrides the server's `gracePeriod` (ms) for this close. */
  gracePeriod?: number;
}

// Why a client's dials are aborted: shared, as abort() without a reason
// builds a DOMException per call.
const CLIENT_CLOSED = new Error("The client's connection is closed");

// One accepted client and everything opened on its behalf.
class ClientHold implements ConnectionScope {
  readonly connections = new Set<Connection>();
  // The dial under way: a client makes one request, so at most one.
  #dial: AbortController | null = null;
  isRelaying = false;

  abortOnClose(controller: AbortController): () => void {
    this.#dial = controller;
    return this.#dialled;
  }

  #dialled = () => {
    this.#dial = null;
  };

  constructor(client: Connection) {
    this.connections.add(client);
  }

  adopt(conn: Connection): void {
    this.connections.add(conn);
  }

  relaying(): void {
    this.isRelaying = true;
  }

  closeAll(): void {
    this.#dial?.abort(CLIENT_CLOSED);
    for (const conn of this.connections) conn.close();
  }
}

/**
 * A running SOCKS5 server, as `serve()` returns it.
 *
 * @example
 * ```ts
 * import { serve } from "../../mod.ts";
 * const server = await serve({ listen: "127.0.0.1:0" });
 * console.log(server.addresses[0]?.port !== 0); // true
 * await server.close();
 * ```
 */
export class Server {
  readonly #state: ServerState;
  readonly #listeners: Listener[];
  #options: ServeOptions;
  readonly #holds = new Map<ClientHold, Promise<void>>();
  readonly #acceptLoops: Promise<void>[];
  readonly #guard: AcceptGuard;
  #closing: Promise<void> | null = null;
  #resolveClosed!: () => void;
  /** Settles once the server has closed, whoever closed it. */
  readonly closed: Promise<void>;

  /** Use `serve()`; this takes listeners that are already open. */
  constructor(
    init: {
      state: ServerState;
      listeners: Listener[];
      options: ServeOptions;
      guard: AcceptGuard;
    },
  ) {
    const { state, listeners, options, guard } = init;
    this.#state = state;
    this.#guard = guard;
    this.#listeners = listeners;
    this.#options = options;
    this.closed = new Promise((resolve) => this.#resolveClosed = resolve);
    this.#acceptLoops = listeners.map((listener) => this.#acceptLoop(listener));
  }

  /** The bound addresses, with real ports, in the order of `listen`. */
  get addresses(): HostPort[] {
    return this.#listeners.map((listener) => ({ ...listener.address }));
  }

  /** The server's counters, as `serveMetrics()` renders them. */
  get metrics(): Metrics {
    return this.#state.metrics;
  }

  /** Clients connected now, in handshake or relaying. */
  get connectionCount(): number {
    return this.#holds.size;
  }

  /**
   * CONNECT tunnels open for a client IP address and user (`null` or left
   * out: without login): the sessions BIND requires.
   */
  sessionCount(clientIp: string, user: string | null = null): number {
    return this.#state.sessions.count(clientIp, user);
  }

  /**
   * Applies new options to clients accepted from now on, without touching
   * live tunnels: users and `authenticate`, rules, timeouts, BIND and UDP
   * settings. `options` replaces the options given before — an option left
   * out goes back to its default, as when a config file loses a key — but
   * `listen`, `limits`, `loginThrottle` and `upstream` keep their values
   * until a restart, and `logger` and `network` stay unless given.
   *
   * @throws {TypeError} When an option is invalid; the old ones stay.
   */
  reload(options: ServeOptions): void {
    const { logger, network } = this.#options;
    const merged: ServeOptions = {
      ...(logger === undefined ? {} : { logger }),
      ...(network === undefined ? {} : { network }),
      ...options,
    };
    const current = this.#state.config;
    const config = resolveOptions({ ...merged, listen: current.listen });
    this.#state.config = {
      ...config,
      limits: current.limits,
      clientIpv6Prefix: current.clientIpv6Prefix,
      loginThrottle: current.loginThrottle,
      upstream: current.upstream,
    };
    this.#options = merged;
    config.logger.log({ level: "info", msg: "reloaded" });
  }

  /**
   * Stops accepting, closes clients still in their handshake, lets tunnels
   * finish for the grace period, then closes the rest. Resolves when every
   * connection and timer is gone.
   */
  close(options: CloseOptions = {}): Promise<void> {
    this.#closing ??= this.#shutdown(
      options.gracePeriod ?? this.#state.config.gracePeriod,
    );
    return this.#closing;
  }

  async #shutdown(gracePeriod: number): Promise<void> {
    for (const listener of this.#listeners) listener.close();
    this.#guard.close();
    await Promise.all(this.#acceptLoops);
    for (const hold of this.#holds.keys()) {
      if (!hold.isRelaying) hold.closeAll();
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const graceOver = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, gracePeriod);
    });
    await Promise.race([Promise.all(this.#holds.values()), graceOver]);
    clearTimeout(timer);
    for (const hold of this.#holds.keys()) hold.closeAll();
    await Promise.all(this.#holds.values());
    this.#state.config.logger.log({ level: "info", msg: "closed" });
    this.#resolveClosed();
  }

  async #acceptLoop(listener: Listener): Promise<void> {
    const guard = this.#guard;
    const address = formatHostPort(listener.address);
    for (;;) {
      let conn: Connection | null;
      try {
        conn = await listener.accept();
      } catch (error) {
        // EMFILE, or a client reset before accept: transient, so go on
        // serving, but never in a tight loop (see accept_guard.ts).
        await guard.failed(error, address);
        continue;
      }
      if (conn === null) return;
      const serve = guard.accepted(conn, address);
      if (serve !== true && !await serve) continue;
      if (this.#closing !== null) {
        conn.close();
        this.#state.metrics.connectionRefused("closing");
        continue;
      }
      // A peer that reset before the accept was handled has no address
      // left (0.0.0.0:0): no one to serve, and no source to trust a PROXY
      // header from. HAProxy's health checks end with such a reset.
      if (!(conn.remoteAddress.port > 0)) {
        conn.close();
        this.#state.config.logger.log({
          level: "debug",
          msg: "peer gone at accept",
        });
        continue;
      }
      const peerIp = conn.remoteAddress.host;
      // A balancer's client is checked once its PROXY header names it.
      const fromBalancer = this.#state.config.sendsProxyHeader(peerIp);
      const admission = fromBalancer
        ? admitBalancer(this.#state)
        : admitClient(this.#state, peerIp);
      if ("refused" in admission) {
        refuseClient(this.#state, conn, admission);
        continue;
      }
      const hold = new ClientHold(conn);
      const served = serveConnection(conn, {
        server: this.#state,
        scope: hold,
        fromBalancer,
      })
        .finally(() => {
          admission.release();
          hold.closeAll();
          this.#holds.delete(hold);
        });
      this.#holds.set(hold, served);
    }
  }
}

/**
 * How a server runs as one of several workers on the same addresses.
 *
 * @example
 * ```ts
 * import type { WorkerInit } from "./server.ts";
 * const init: WorkerInit = { reusePort: true };
 * ```
 */
export interface WorkerInit {
  /** Listen with `SO_REUSEPORT`, beside the other workers. */
  reusePort?: boolean;
  /** The state every worker shares, in place of this server's own. */
  shared?: (options: {
    limits: LimitOptions;
    pending: PendingOptions;
    throttle: ThrottleOptions;
  }) => Pick<ServerState, "sessions" | "limits" | "pending" | "throttle">;
}

/**
 * Checks the options, opens every listener, and starts serving on
 * `network`. If one listener fails, those already open are closed.
 *
 * @example
 * ```ts
 * import { startServer } from "./server.ts";
 * import type { Network } from "../net/connection.ts";
 * async function start(network: Network) {
 *   return await startServer(network, { listen: "127.0.0.1:0" });
 * }
 * ```
 */
export function startServer(
  network: Network,
  options: ServeOptions,
): Promise<Server> {
  return startWorkerServer(network, options, {});
}

/**
 * {@linkcode startServer} as one of several workers on the same addresses
 * (the CLI's `--workers`).
 */
export async function startWorkerServer(
  network: Network,
  options: ServeOptions,
  worker: WorkerInit,
): Promise<Server> {
  const config = resolveOptions(options);
  const listeners: Listener[] = [];
  const listenOptions = worker.reusePort ? { reusePort: true } : {};
  try {
    for (const address of config.listen) {
      listeners.push(await network.listen(address, listenOptions));
    }
  } catch (error) {
    for (const listener of listeners) listener.close();
    throw error;
  }
  await budgetDescriptors(network, {
    config,
    listeners: listeners.length,
    setByUser: options.limits?.maxConnections !== undefined,
  });
  const metrics = new Metrics();
  const pendingOptions = {
    max: config.limits.maxPendingHandshakes,
    perClient: config.limits.maxPendingHandshakesPerClient,
    ipv6Prefix: config.clientIpv6Prefix,
  };
  const state = worker.shared?.({
    limits: config.limits,
    pending: pendingOptions,
    throttle: config.loginThrottle,
  }) ?? {
    sessions: new SessionTable(),
    limits: new Limits(config.limits),
    pending: new PendingHandshakes(pendingOptions),
    throttle: new LoginThrottle(config.loginThrottle),
  };
  const guard = new AcceptGuard({ network, logger: config.logger, metrics });
  await guard.start();
  const server = new Server({
    state: {
      config,
      network: timedLookups(
        config.upstream === null
          ? network
          : upstreamNetwork(network, config.upstream),
        metrics,
      ),
      metrics,
      ...state,
    },
    listeners,
    options,
    guard,
  });
  for (const address of server.addresses) {
    config.logger.log({
      level: "info",
      msg: "listening",
      address: formatHostPort(address),
    });
  }
  return server;
}

// Reads the descriptor limit, derives maxConnections from it unless the
// user set one, and logs the figures.
async function budgetDescriptors(
  network: Network,
  init: { config: ServerConfig; listeners: number; setByUser: boolean },
): Promise<void> {
  const { config, listeners, setByUser } = init;
  // A network that cannot say (a test's, a custom one) gets no line.
  if (network.descriptorLimit === undefined) return;
  const limit = await network.descriptorLimit().catch(() => null);
  if (limit === null) {
    config.logger.log({
      level: "info",
      msg: "descriptors",
      limit: "unknown",
      max_connections: config.limits.maxConnections,
    });
    return;
  }
  const budget = descriptorBudget(limit, listeners);
  if (!setByUser) config.limits.maxConnections = budget.maxConnections;
  const max = config.limits.maxConnections;
  config.logger.log({
    level: max === 0 || max > budget.maxConnections ? "warn" : "info",
    msg: "descriptors",
    limit: Number.isFinite(limit) ? limit : "unlimited",
    reserved: budget.reserved,
    per_client: DESCRIPTORS_PER_CLIENT,
    max_connections: max,
    ...(setByUser ? { budget: budget.maxConnections } : {}),
  });
}

// Every name lookup goes through here, so its time lands in the metrics.
function timedLookups(network: Network, metrics: Metrics): Network {
  return {
    listen: (address, options) => network.listen(address, options),
    connect: (options) => network.connect(options),
    bindUdp: (address, onDatagram) => network.bindUdp(address, onDatagram),
    async lookup(name) {
      const started = Date.now();
      try {
        const addresses = await network.lookup(name);
        metrics.dnsLookup((Date.now() - started) / 1000, true);
        return addresses;
      } catch (error) {
        metrics.dnsLookup((Date.now() - started) / 1000, false);
        throw error;
      }
    },
  };
}
