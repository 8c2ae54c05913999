/**
 * The edgesocks benchmark: edgesocks on Deno, Bun and Node against a direct
 * connection and, when installed, microsocks and Dante, in one Markdown
 * table of medians over `--rounds` rounds:
 *
 * ```sh
 * deno task bench [--rounds 3] [--quick] [--peers] [--servers direct,deno,deno-warn,deno-bare,bun,bun-warn,bun-bare,node,node-warn,node-bare,microsocks,dante]
 * npm run bench   # the same
 * deno task bench --unpinned [--servers bun,bun-w2,deno,deno-w2,node,node-w2,microsocks]
 * ```
 *
 * `--unpinned` is the multi-core run: nothing is pinned, so edgesocks with
 * `--workers 2` (the `-w2` rows) and microsocks (a thread per client) may
 * use every core, beside edgesocks with one worker; it measures only
 * handshakes (rate, p50/p99), 8-stream throughput and the server's CPU
 * time per connection (from /proc, every thread counted), in one table.
 *
 * - Throughput: 1 stream (1 GiB) and 8 streams (8 × 256 MiB), up and down,
 *   through a CONNECT tunnel to a local sink or source, in MB/s (10⁶ B/s)
 *   and as a ratio to the same transfer without a proxy.
 * - Connection rate: 50 clients at once, each doing greeting, RFC 1929
 *   login, CONNECT, a 32-byte echo and the close, for a fixed time; the rate
 *   and the p50/p99 time per connection.
 * - The access log's cost: edgesocks runs as users run it, with the
 *   default log level (`info`: one JSON access line per request, stderr to
 *   a file); the `-warn` rows run the handshake test again at
 *   `--log-level warn`, beside them, with the server's CPU per connection.
 * - The floor: the `-bare` rows run `scripts/bench/bare_relay.ts` on each
 *   runtime (greeting, any login, CONNECT, relay, close, with nothing
 *   checked, logged or counted) through the same handshake test, so
 *   edgesocks's CPU per connection is shown beside the least that runtime
 *   can spend on one.
 * - Latency: 64-byte ping-pong through an open tunnel, p50/p99, and what the
 *   proxy adds to the direct round trip.
 * - Memory: the server's RSS idle and with 2,000 idle tunnels, and the KiB
 *   each tunnel costs; a stalled reader (the destination never reads
 *   while the client writes as fast as it can) whose RSS must stay flat;
 *   and a soak: 60 s of handshakes and bulk transfers at full speed, with
 *   the RSS sampled every second, which must not climb (no leak).
 * - Fairness: the handshake test's clients from 127.0.0.1, alone and then
 *   beside a flood of 1,500 stalled and garbage handshakes from 64 other
 *   addresses (each one closed comes back a second later), with the RSS
 *   before, during and after the flood. edgesocks only.
 *
 * The client side and every destination are one C program,
 * `scripts/bench/loadgen.c` (compiled into `.bench/` with `cc -O2`), so
 * nothing in the measured path is JavaScript except the proxy. The server
 * runs on CPU 0 and the generator on CPU 1 (`taskset`), except for the
 * latency test, where both share CPU 0. The generator reports its own CPU
 * time for every test, next to the server's, to show which side was busy.
 *
 * `--peers` first runs `apt-get install -y microsocks dante-server`. Dante's
 * username method checks system accounts, so for Dante the bench adds a
 * system user (MD5-crypt password, the cheapest hash `chpasswd` offers) and
 * removes it at the end. Everything talks to 127.0.0.1 only, every wait is
 * bounded, and every process started here is killed by its PID at the end,
 * on error too.
 *
 * @module
 */

import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import {
  closeSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import os from "node:os";
import process from "node:process";
import { parseArgs } from "node:util";

const { values: flags } = parseArgs({
  args: process.argv.slice(2),
  options: {
    rounds: { type: "string" },
    quick: { type: "boolean", default: false },
    peers: { type: "boolean", default: false },
    servers: { type: "string" },
    unpinned: { type: "boolean", default: false },
  },
});

const MiB = 1024 * 1024;
const settings = flags.quick
  ? {
    rounds: 1,
    oneStream: 128 * MiB,
    eightStreams: 32 * MiB,
    connSeconds: 0.5,
    pings: 2_000,
    pingWarmup: 200,
    tunnels: 2_000,
    stallSeconds: 1,
    soakSeconds: 6,
    floodSeconds: 2,
    settleMs: 300,
  }
  : {
    rounds: 3,
    oneStream: 1024 * MiB,
    eightStreams: 256 * MiB,
    connSeconds: 3,
    pings: 20_000,
    pingWarmup: 1_000,
    tunnels: 2_000,
    stallSeconds: 3,
    soakSeconds: 60,
    floodSeconds: 5,
    settleMs: 1_000,
  };
if (flags.rounds !== undefined) settings.rounds = Number(flags.rounds);
if (!Number.isInteger(settings.rounds) || settings.rounds < 1) {
  throw new TypeError(`Invalid --rounds: ${flags.rounds}`);
}
const CONCURRENCY = 50;
const USER = "alice";
const PASSWORD = "s3cret";
const DANTE_USER = "edgesocks-bench";

const root = new URL("..", import.meta.url).pathname;
const bin = `${root}node_modules/.bin`;
const work = `${root}.bench`;
const loadgen = `${work}/loadgen`;
const hasTaskset = spawnSync("taskset", ["-c", "0", "true"]).status === 0;
const SERVER_CPU = "0";
const GENERATOR_CPU = "1";

/** Every child still running, by PID: killed at the end whatever happens. */
const children = new Map<number, ChildProcess>();
const cleanups: (() => void)[] = [];
const notes: string[] = [];

// ------------------------------------------------------------------ helpers

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? sorted[mid]!
    : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function run(command: string, args: readonly string[]): string {
  const result = spawnSync(command, args, { encoding: "utf8" });
  if (result.status !== 0) {
    throw new Error(
      `Command failed: ${command} ${args.join(" ")}: ${result.stderr ?? ""}`,
    );
  }
  return result.stdout;
}

function tryRun(command: string, args: readonly string[]): string | null {
  try {
    return run(command, args).trim();
  } catch {
    return null;
  }
}

function pinned(cpu: string, command: readonly string[]): string[] {
  return hasTaskset && !flags.unpinned
    ? ["taskset", "-c", cpu, ...command]
    : [...command];
}

function track(child: ChildProcess): ChildProcess {
  const pid = child.pid;
  if (pid === undefined) throw new Error(`Cannot start: ${child.spawnfile}`);
  children.set(pid, child);
  child.once("exit", () => children.delete(pid));
  return child;
}

/** PIDs of `pid`'s descendants, from /proc (Dante forks its workers). */
function descendants(pid: number): number[] {
  const parents = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      const list = parents.get(ppid) ?? [];
      list.push(Number(entry));
      parents.set(ppid, list);
    } catch {
      // The process ended while we looked.
    }
  }
  const found: number[] = [];
  const queue = [pid];
  for (let i = 0; i < queue.length && i < 10_000; i++) {
    for (const child of parents.get(queue[i]!) ?? []) {
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}

/**
 * The server's memory in KiB: VmRSS for a single process; for a tree of
 * processes (Dante forks its workers) the sum of their PSS, since a sum of
 * RSS would count the shared pages once per process.
 */
function rssKiB(pid: number): number {
  const tree = [pid, ...descendants(pid)];
  const [file, key] = tree.length === 1
    ? ["status", "VmRSS"]
    : ["smaps_rollup", "Pss"];
  let total = 0;
  for (const p of tree) {
    try {
      const text = readFileSync(`/proc/${p}/${file}`, "utf8");
      total += Number(
        new RegExp(`^${key}:\\s+(\\d+)`, "m").exec(text)?.[1] ?? 0,
      );
    } catch {
      // Gone: nothing to count.
    }
  }
  return total;
}

const TICKS = Number(tryRun("getconf", ["CLK_TCK"]) ?? 100);

/**
 * User + system CPU seconds of the process tree so far, with its reaped
 * children's (Dante replaces its workers).
 */
function cpuSeconds(pid: number): number {
  let ticks = 0;
  for (const p of [pid, ...descendants(pid)]) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      // utime, stime, cutime, cstime
      for (const i of [11, 12, 13, 14]) ticks += Number(fields[i]);
    } catch {
      // Gone: nothing to count.
    }
  }
  return ticks / TICKS;
}

async function stopProcess(pid: number): Promise<void> {
  const child = children.get(pid);
  const tree = descendants(pid);
  try {
    process.kill(pid, "SIGTERM");
  } catch {
    // Already gone.
  }
  for (let i = 0; i < 30 && children.has(pid); i++) await sleep(100);
  if (children.has(pid)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
  for (const p of tree) {
    try {
      process.kill(p, "SIGKILL");
    } catch {
      // It exited with its parent, as it should.
    }
  }
  if (child !== undefined) children.delete(pid);
}

async function stopAll(): Promise<void> {
  for (const pid of [...children.keys()]) await stopProcess(pid);
  for (const cleanup of cleanups.splice(0).reverse()) {
    try {
      cleanup();
    } catch (error) {
      console.error(`Cleanup failed: ${error}`);
    }
  }
}

/** A child's stdout as lines, each awaited with a deadline. */
class Lines {
  #lines: string[] = [];
  #waiters: (() => void)[] = [];
  #ended = false;
  #buffer = "";

  constructor(child: ChildProcess) {
    child.stdout!.setEncoding("utf8");
    child.stdout!.on("data", (chunk: string) => {
      this.#buffer += chunk;
      const parts = this.#buffer.split("\n");
      this.#buffer = parts.pop()!;
      this.#lines.push(...parts.filter((line) => line !== ""));
      this.#wake();
    });
    child.stdout!.on("end", () => {
      this.#ended = true;
      this.#wake();
    });
  }

  #wake(): void {
    for (const waiter of this.#waiters.splice(0)) waiter();
  }

  async next(ms: number, what: string): Promise<string> {
    const deadline = Date.now() + ms;
    while (this.#lines.length === 0) {
      if (this.#ended) throw new Error(`${what}: output ended`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${what}: no output in ${ms} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.#lines.shift()!;
  }
}

type Json = Record<string, number | string>;

function parseResult(line: string, what: string): Json {
  let value: Json;
  try {
    value = JSON.parse(line) as Json;
  } catch {
    throw new Error(`${what}: unexpected output: ${line}`);
  }
  if (typeof value.error === "string") {
    throw new Error(`${what}: ${value.error}`);
  }
  return value;
}

/** Starts the generator; its stdin stays open for the interactive modes. */
function startLoadgen(
  cpu: string,
  args: readonly string[],
): { child: ChildProcess; lines: Lines } {
  const [command, ...rest] = pinned(cpu, [loadgen, ...args]);
  const child = track(
    spawn(command!, rest, { stdio: ["pipe", "pipe", "inherit"] }),
  );
  return { child, lines: new Lines(child) };
}

async function waitExit(child: ChildProcess, ms: number): Promise<void> {
  const pid = child.pid!;
  for (let waited = 0; children.has(pid) && waited < ms; waited += 50) {
    await sleep(50);
  }
  if (children.has(pid)) {
    await stopProcess(pid);
    throw new Error(`loadgen did not exit in ${ms} ms`);
  }
}

// ------------------------------------------------------------------ servers

interface ServerSpec {
  name: string;
  label: string;
  command: string[];
  user: string;
  /** The port to probe; undefined: read it from the `listening on` line. */
  port?: number;
  /** Runs the handshake test only (the `-warn` rows). */
  connOnly?: boolean;
}

interface Server {
  spec: ServerSpec;
  pid: number;
  port: number;
}

async function startServer(spec: ServerSpec): Promise<Server> {
  const [command, ...args] = pinned(SERVER_CPU, spec.command);
  // A file, not a pipe: microsocks logs every connection, and reading that
  // here would put this script's CPU into the measurement.
  const log = `${work}/${spec.name}.stderr`;
  const fd = openSync(log, "w");
  const child = track(
    spawn(command!, args, { stdio: ["ignore", "pipe", fd] }),
  );
  closeSync(fd);
  const stderr = () => readFileSync(log, "utf8").slice(-2000);
  const lines = new Lines(child);
  let port: number;
  if (spec.port === undefined) {
    for (;;) {
      const line = await lines.next(30_000, `${spec.name} start`).catch((
        error,
      ) => {
        throw new Error(`${error.message}: ${stderr()}`);
      });
      const match = /listening on 127\.0\.0\.1:(\d+)/.exec(line);
      if (match) {
        port = Number(match[1]);
        break;
      }
    }
  } else {
    port = spec.port;
    await waitForPort(port, spec.name, stderr);
  }
  return { spec, pid: child.pid!, port };
}

async function waitForPort(
  port: number,
  name: string,
  stderr: () => string,
): Promise<void> {
  const net = await import("node:net");
  for (let i = 0; i < 100; i++) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, "127.0.0.1");
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (open) return;
    await sleep(100);
  }
  throw new Error(`${name} did not listen on ${port}: ${stderr()}`);
}

function freePort(): number {
  return Number(run(loadgen, ["port"]).trim());
}

function dpkgVersion(name: string): string | null {
  const out = tryRun("dpkg-query", ["-W", "-f=${Status}|${Version}", name]);
  if (out === null || !out.startsWith("install ok installed")) return null;
  return out.split("|")[1] ?? null;
}

function installPeers(): void {
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const install = () =>
    spawnSync("apt-get", ["install", "-y", "microsocks", "dante-server"], {
      stdio: ["ignore", "ignore", "inherit"],
      env,
    }).status === 0;
  if (install()) return;
  spawnSync("apt-get", ["update"], { stdio: "ignore", env });
  if (!install()) throw new Error("Cannot install microsocks and dante-server");
}

/** Adds the system user Dante logs in against; undone at the end. */
function addDanteUser(): void {
  const exists = spawnSync("id", [DANTE_USER], { stdio: "ignore" }).status ===
    0;
  if (!exists) {
    run("useradd", [
      "--system",
      "--no-create-home",
      "--shell",
      "/usr/sbin/nologin",
      DANTE_USER,
    ]);
    cleanups.push(() => run("userdel", [DANTE_USER]));
  }
  const result = spawnSync("chpasswd", ["-c", "MD5"], {
    input: `${DANTE_USER}:${PASSWORD}\n`,
  });
  if (result.status !== 0) throw new Error("Cannot set the Dante password");
}

function danteConfig(port: number): string {
  return `logoutput: stderr
internal: 127.0.0.1 port = ${port}
external: 127.0.0.1
clientmethod: none
socksmethod: username
user.privileged: root
user.unprivileged: nobody
client pass {
  from: 127.0.0.0/8 to: 0.0.0.0/0
  log: error
}
socks pass {
  from: 127.0.0.0/8 to: 127.0.0.0/8
  command: connect
  log: error
}
`;
}

function serverSpecs(wanted: Set<string>): ServerSpec[] {
  const specs: ServerSpec[] = [];
  const edgesocksArgs = [
    "--listen",
    "127.0.0.1:0",
    "--user",
    `${USER}:${PASSWORD}`,
  ];
  const user = `${USER}:${PASSWORD}`;
  // Each runtime at the default log level, and again at warn; and the bare
  // relay on the same runtime, the floor of its CPU per connection.
  const edgesocks = (name: string, label: string, runtime: string[]) => {
    const command = [...runtime, `${root}src/cli/main.ts`];
    if (wanted.has(name)) {
      specs.push({
        name,
        label,
        command: [...command, ...edgesocksArgs],
        user,
      });
    }
    if (wanted.has(`${name}-warn`)) {
      specs.push({
        name: `${name}-warn`,
        label: `${label}, --log-level warn`,
        command: [...command, ...edgesocksArgs, "--log-level", "warn"],
        user,
        connOnly: true,
      });
    }
    if (wanted.has(`${name}-bare`)) {
      const port = freePort();
      specs.push({
        name: `${name}-bare`,
        label: `${label.replace("edgesocks", "bare relay")}`,
        command: [
          ...runtime,
          `${root}scripts/bench/bare_relay.ts`,
          String(port),
        ],
        user,
        port,
        connOnly: true,
      });
    }
    if (wanted.has(`${name}-w2`)) {
      specs.push({
        name: `${name}-w2`,
        label: `${label}, --workers 2`,
        command: [...command, ...edgesocksArgs, "--workers", "2"],
        user,
      });
    }
    if (wanted.has(`${name}-w2-warn`)) {
      specs.push({
        name: `${name}-w2-warn`,
        label: `${label}, --workers 2, --log-level warn`,
        command: [
          ...command,
          ...edgesocksArgs,
          "--workers",
          "2",
          "--log-level",
          "warn",
        ],
        user,
      });
    }
  };
  edgesocks("deno", "edgesocks on Deno", [
    `${bin}/deno`,
    "run",
    "-A",
    "--unstable-net",
  ]);
  edgesocks("bun", "edgesocks on Bun", [`${bin}/bun`]);
  // The pinned Active LTS runs the sources, as `npm start` does.
  edgesocks("node", "edgesocks on Node", [
    `${root}node_modules/node26/bin/node`,
  ]);
  const microsocks = dpkgVersion("microsocks");
  if (wanted.has("microsocks") && microsocks !== null) {
    const port = freePort();
    specs.push({
      name: "microsocks",
      label: `microsocks ${microsocks}`,
      command: [
        "microsocks",
        "-i",
        "127.0.0.1",
        "-p",
        String(port),
        "-u",
        USER,
        "-P",
        PASSWORD,
      ],
      user,
      port,
    });
  }
  const dante = dpkgVersion("dante-server");
  if (wanted.has("dante") && dante !== null) {
    if (process.getuid?.() !== 0) {
      notes.push("Dante skipped: adding its system user needs root.");
    } else {
      addDanteUser();
      const port = freePort();
      const config = `${work}/danted.conf`;
      writeFileSync(config, danteConfig(port));
      cleanups.push(() => rmSync(config, { force: true }));
      cleanups.push(() => rmSync(`${work}/danted.pid`, { force: true }));
      specs.push({
        name: "dante",
        label: `Dante ${dante}`,
        command: ["danted", "-f", config, "-p", `${work}/danted.pid`],
        user: `${DANTE_USER}:${PASSWORD}`,
        port,
      });
    }
  }
  return specs;
}

// ------------------------------------------------------------------ tests

/** `"a b c"` → `["a", "b", "c"]`: loadgen arguments, readably. */
function words(text: string): string[] {
  return text.split(" ").filter((word) => word !== "");
}

function proxyArgs(server: Server | null): string[] {
  return server === null
    ? []
    : ["--proxy", String(server.port), "--user", server.spec.user];
}

/** One generator run: its JSON result plus the server's CPU meanwhile. */
interface Measured {
  result: Json;
  /** The generator's user + sys seconds over the measured phase. */
  genCpu: number;
  /** That over the phase's wall time. */
  genShare: number;
  /** The server's CPU seconds from the generator's start to its result, over that time. */
  serverShare: number;
  /** Those CPU seconds. */
  serverCpu: number;
}

async function measure(
  server: Server | null,
  args: readonly string[],
  options: { cpu: string; what: string },
): Promise<Measured> {
  const cpuBefore = server === null ? 0 : cpuSeconds(server.pid);
  const started = performance.now();
  const { child, lines } = startLoadgen(options.cpu, [
    ...args,
    ...proxyArgs(server),
    "--timeout",
    "300",
  ]);
  child.stdin!.end();
  const result = parseResult(
    await lines.next(305_000, options.what),
    options.what,
  );
  // Up to the result line, not the exit, which is only polled for.
  const wall = (performance.now() - started) / 1000;
  const serverCpu = server === null ? NaN : cpuSeconds(server.pid) - cpuBefore;
  await waitExit(child, 5_000);
  const genCpu = Number(result.cpu_user) + Number(result.cpu_sys);
  return {
    result,
    genCpu,
    genShare: genCpu / Number(result.wall),
    serverShare: serverCpu / wall,
    serverCpu,
  };
}

const TESTS = ["1↑", "1↓", "8↑", "8↓", "conn", "ping"] as const;
type Test = typeof TESTS[number];

function testArgs(test: Test): string[] {
  const { oneStream, eightStreams, connSeconds, pings, pingWarmup } = settings;
  switch (test) {
    case "1↑":
      return words(`tput --streams 1 --bytes ${oneStream} --dir up`);
    case "1↓":
      return words(`tput --streams 1 --bytes ${oneStream} --dir down`);
    case "8↑":
      return words(`tput --streams 8 --bytes ${eightStreams} --dir up`);
    case "8↓":
      return words(`tput --streams 8 --bytes ${eightStreams} --dir down`);
    case "conn":
      return words(
        `conn --concurrency ${CONCURRENCY} --seconds ${connSeconds} --max 2000000`,
      );
    case "ping":
      return words(`ping --count ${pings} --warmup ${pingWarmup} --size 64`);
  }
}

function runTest(server: Server | null, test: Test): Promise<Measured> {
  return measure(server, testArgs(test), {
    // The latency test puts the server and the client on one CPU.
    cpu: test === "ping" ? SERVER_CPU : GENERATOR_CPU,
    what: `${server?.spec.name ?? "direct"} ${test}`,
  });
}

interface Stall {
  before: number;
  after: number;
  written: number;
  /** Bytes the tunnel still took in the last `tailSeconds`. */
  tail: number;
  tailSeconds: number;
}

interface Memory {
  idle: number;
  loaded: number;
  perTunnel: number;
  stall: Stall;
}

/** Opens `count` idle tunnels and returns the server's memory with them. */
async function holdTunnels(server: Server, count: number): Promise<number> {
  const what = `${server.spec.name} hold ${count}`;
  const { child, lines } = startLoadgen(GENERATOR_CPU, [
    ...words(`hold --tunnels ${count} --timeout 120`),
    ...proxyArgs(server),
  ]);
  try {
    parseResult(await lines.next(60_000, what), what);
    // Let the server finish whatever each new tunnel allocates.
    await sleep(settings.settleMs);
    const rss = rssKiB(server.pid);
    child.stdin!.end();
    const closed = parseResult(await lines.next(30_000, what), what);
    if (Number(closed.dropped) !== 0) {
      notes.push(`${server.spec.name}: ${closed.dropped} idle tunnels dropped`);
    }
    await waitExit(child, 10_000);
    return rss;
  } finally {
    if (children.has(child.pid!)) await stopProcess(child.pid!);
  }
}

async function stalledReader(server: Server): Promise<Stall> {
  const what = `${server.spec.name} stalled reader`;
  const { child, lines } = startLoadgen(GENERATOR_CPU, [
    ...words(`stall --seconds ${settings.stallSeconds} --timeout 60`),
    ...proxyArgs(server),
  ]);
  try {
    parseResult(await lines.next(30_000, what), what);
    await sleep(settings.settleMs / 2);
    const before = rssKiB(server.pid);
    child.stdin!.write("go\n");
    const ms = settings.stallSeconds * 1000 + 10_000;
    const done = parseResult(await lines.next(ms, what), what);
    await sleep(settings.settleMs / 2);
    const after = rssKiB(server.pid);
    child.stdin!.end();
    await waitExit(child, 10_000);
    return {
      before,
      after,
      written: Number(done.written),
      tail: Number(done.written_tail),
      tailSeconds: Number(done.tail_seconds),
    };
  } finally {
    if (children.has(child.pid!)) await stopProcess(child.pid!);
  }
}

async function memory(server: Server): Promise<Memory> {
  // A small warm-up first, so "idle" is a server that has served before and
  // the per-tunnel cost leaves out one-time costs (code compiled on first use).
  await holdTunnels(server, 100);
  await sleep(settings.settleMs);
  const idle = rssKiB(server.pid);
  const loaded = await holdTunnels(server, settings.tunnels);
  const stall = await stalledReader(server);
  return { idle, loaded, perTunnel: (loaded - idle) / settings.tunnels, stall };
}

interface Soak {
  /** RSS (KiB) sampled once a second while the load ran. */
  samples: number[];
  connections: number;
  errors: number;
  bytes: number;
}

/**
 * Full speed for `soakSeconds`: 50 clients doing handshakes, and one bulk
 * transfer after another beside them. A leak shows as RSS that climbs
 * through the run rather than levelling off after the first seconds.
 */
async function soak(server: Server): Promise<Soak> {
  const what = `${server.spec.name} soak`;
  const seconds = settings.soakSeconds;
  const proxy = [...proxyArgs(server), "--timeout", String(seconds + 60)];
  const conn = startLoadgen(GENERATOR_CPU, [
    ...words(`conn --concurrency ${CONCURRENCY} --seconds ${seconds}`),
    ...words("--max 10000000"),
    ...proxy,
  ]);
  conn.child.stdin!.end();
  const samples: number[] = [];
  let bytes = 0;
  const started = performance.now();
  const elapsed = () => (performance.now() - started) / 1000;
  const sampling = (async () => {
    while (elapsed() < seconds) {
      await sleep(1000);
      samples.push(rssKiB(server.pid));
    }
  })();
  for (let up = true; elapsed() < seconds - 1; up = !up) {
    const bulk = startLoadgen(GENERATOR_CPU, [
      ...words(`tput --streams 2 --bytes ${64 * MiB}`),
      ...words(`--dir ${up ? "up" : "down"}`),
      ...proxy,
    ]);
    bulk.child.stdin!.end();
    bytes += Number(
      parseResult(await bulk.lines.next(60_000, what), what).bytes,
    );
    await waitExit(bulk.child, 5_000);
  }
  const result = parseResult(
    await conn.lines.next((seconds + 60) * 1000, what),
    what,
  );
  await waitExit(conn.child, 5_000);
  await sampling;
  return {
    samples,
    connections: Number(result.completed),
    errors: Number(result.errors),
    bytes,
  };
}

const FLOOD = { clients: 1500, sources: 64, reconnectMs: 1000 };

interface Flood {
  alone: Json;
  flooded: Json;
  opened: number;
  /** RSS before the flood, while it runs, and once it is over. */
  rss: [number, number, number];
}

/** The handshake test alone, then beside a flood from other addresses. */
async function flood(server: Server): Promise<Flood> {
  const what = `${server.spec.name} flood`;
  const seconds = settings.floodSeconds;
  const conn = words(
    `conn --concurrency ${CONCURRENCY} --seconds ${seconds} --max 2000000`,
  );
  const options = { cpu: GENERATOR_CPU, what };
  const alone = (await measure(server, conn, options)).result;
  const before = rssKiB(server.pid);
  const flooding = startLoadgen(GENERATOR_CPU, [
    ...words(`flood --clients ${FLOOD.clients} --sources ${FLOOD.sources}`),
    ...words(`--reconnect-ms ${FLOOD.reconnectMs} --seconds ${seconds + 2}`),
    ...proxyArgs(server),
  ]);
  flooding.child.stdin!.end();
  await sleep(1000);
  const flooded = (await measure(server, conn, options)).result;
  const during = rssKiB(server.pid);
  const opened = Number(
    parseResult(await flooding.lines.next(30_000, what), what).opened,
  );
  await waitExit(flooding.child, 5_000);
  await sleep(settings.settleMs);
  return { alone, flooded, opened, rss: [before, during, rssKiB(server.pid)] };
}

function floodLines(floods: Map<string, Flood>): string[] {
  const { clients, sources, reconnectMs } = FLOOD;
  const out = [
    `Fairness: ${CONCURRENCY} clients from 127.0.0.1 doing handshakes for ${settings.floodSeconds} s, alone → beside ${clients} stalled (one byte) and garbage (64 bytes) handshakes from ${sources} other addresses, each one closed back after ${reconnectMs} ms; server RSS before → during → after the flood:`,
    "",
  ];
  const rate = (result: Json) =>
    `${fixed(Number(result.rate), 0)}/s, p99 ${
      fixed(Number(result.p99_ms), 1)
    } ms${Number(result.errors) > 0 ? ` (${result.errors} failed)` : ""}`;
  for (const [name, { alone, flooded, opened, rss }] of floods) {
    out.push(
      `- ${name}: ${rate(alone)} → ${
        rate(flooded)
      }; the flood opened ${opened} connections; RSS ${
        rss.map(mib).join(" → ")
      } MiB`,
    );
  }
  return out;
}

// ------------------------------------------------------------------ output

function header(): string[] {
  const cpuinfo = readFileSync("/proc/cpuinfo", "utf8");
  const model = /model name\s*:\s*(.+)/.exec(cpuinfo)?.[1]?.trim() ?? "?";
  const cores = (cpuinfo.match(/^processor\s*:/gm) ?? []).length;
  const deno = tryRun(`${bin}/deno`, ["--version"])?.split("\n")[0];
  const bun = tryRun(`${bin}/bun`, ["--version"]);
  const node = tryRun(`${root}node_modules/node26/bin/node`, ["--version"]);
  const cc = tryRun("cc", ["--version"])?.split("\n")[0];
  const peers = [["microsocks", "microsocks"], ["dante-server", "Dante"]]
    .map(([pkg, name]) => [name, dpkgVersion(pkg!)])
    .filter(([, version]) => version !== null)
    .map(([name, version]) => `${name} ${version}`);
  const { rounds, oneStream, eightStreams } = settings;
  const args = process.argv.slice(2).join(" ");
  return [
    `Command: deno task bench${args === "" ? "" : ` ${args}`}`,
    `Started: ${new Date().toISOString()}, load average ${loadAverage()}`,
    `Machine: ${model}, ${cores} cores, Linux ${os.release()}`,
    `Runtimes: ${deno}, bun ${bun}, node ${node}; peers: ${
      peers.join(", ") || "none installed"
    }; loadgen: ${cc}`,
    flags.unpinned
      ? "Pinning: none (--unpinned)"
      : hasTaskset
      ? `Pinning: server on CPU ${SERVER_CPU}, load generator on CPU ${GENERATOR_CPU}; latency test: both on CPU ${SERVER_CPU}`
      : "Pinning: none (taskset not found)",
    `Medians of ${rounds} round(s). Throughput: 1 × ${
      oneStream / MiB
    } MiB and 8 × ${
      eightStreams / MiB
    } MiB each way, MB = 10⁶ bytes, (× direct). Handshakes: ${CONCURRENCY} clients at once for ${settings.connSeconds} s, each: greeting, login, CONNECT, 32-byte echo, close. Ping: ${settings.pings} round trips of 64 B.`,
  ];
}

/** The machine is shared: the load average says how much else ran. */
function loadAverage(): string {
  return readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
}

function fixed(value: number, digits: number): string {
  return Number.isFinite(value) ? value.toFixed(digits) : "–";
}

function mb(value: number): string {
  return fixed(value, value >= 100 ? 0 : 1);
}

function percent(value: number): string {
  return Number.isFinite(value) ? `${(value * 100).toFixed(0)}%` : "–";
}

function mib(kib: number): string {
  return fixed(kib / 1024, 1);
}

interface Row {
  name: string;
  label: string;
  server: Server | null;
  runs: Map<Test, Measured[]>;
}

function table(rows: readonly Row[], memories: Map<string, Memory>): string[] {
  const value = (row: Row, test: Test, key: string) =>
    median(row.runs.get(test)!.map((m) => Number(m.result[key])));
  const direct = rows.find((row) => row.server === null);
  const out = [
    "| server | 1 stream ↑ MB/s | 1 stream ↓ | 8 streams ↑ | 8 streams ↓ | handshakes/s | per connection p50 / p99 ms | ping p50 / p99 µs | added p50 / p99 µs | RSS idle MiB | RSS 2,000 tunnels MiB | KiB / tunnel |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const row of rows) {
    if (row.server?.spec.connOnly) continue;
    const tput = (test: Test) => {
      const mbps = value(row, test, "mbps");
      if (direct === undefined) return mb(mbps);
      return `${mb(mbps)} (${fixed(mbps / value(direct, test, "mbps"), 2)})`;
    };
    const ping = (key: string) => value(row, "ping", key);
    const added = (key: string) =>
      direct === undefined || row === direct
        ? NaN
        : ping(key) - value(direct, "ping", key);
    const memory = memories.get(row.name);
    const cells = [
      row.name === "dante" ? `${row.label} ¹` : row.label,
      tput("1↑"),
      tput("1↓"),
      tput("8↑"),
      tput("8↓"),
      fixed(value(row, "conn", "rate"), 0),
      `${fixed(value(row, "conn", "p50_ms"), 1)} / ${
        fixed(value(row, "conn", "p99_ms"), 1)
      }`,
      `${fixed(ping("p50_us"), 0)} / ${fixed(ping("p99_us"), 0)}`,
      row === direct
        ? "–"
        : `${fixed(added("p50_us"), 0)} / ${fixed(added("p99_us"), 0)}`,
      memory ? mib(memory.idle) : "–",
      memory ? mib(memory.loaded) : "–",
      memory ? fixed(memory.perTunnel, 1) : "–",
    ];
    out.push(`| ${cells.join(" | ")} |`);
  }
  return out;
}

function footnotes(
  rows: readonly Row[],
  memories: Map<string, Memory>,
): string[] {
  const out: string[] = [];
  if (rows.some((row) => row.name === "dante")) {
    out.push(
      `¹ Dante logs in against a system account (${DANTE_USER}, MD5-crypt password, the cheapest crypt chpasswd offers); its memory is the PSS summed over its processes.`,
    );
  }
  out.push(
    `Memory: VmRSS; idle is after start and 100 warm-up tunnels; KiB / tunnel = (RSS with ${settings.tunnels} idle tunnels − idle) / ${settings.tunnels}.`,
  );
  const stalls = [...memories.entries()].map(([name, { stall }]) => {
    const grew = stall.after - stall.before;
    return `${name} ${mib(stall.before)} → ${mib(stall.after)} MiB (${
      grew >= 0 ? "+" : "−"
    }${Math.abs(grew)} KiB; took ${fixed(stall.written / MiB, 1)} MiB, ${
      fixed(stall.tail / 1024, 0)
    } KiB in the last ${stall.tailSeconds} s)`;
  });
  out.push(
    `Stalled reader (destination never reads; the client writes for ${settings.stallSeconds} s), server RSS before → after: ${
      stalls.join("; ")
    }.`,
  );
  for (const row of rows) {
    const failed = row.runs.get("conn")!.reduce(
      (sum, m) => sum + Number(m.result.errors),
      0,
    );
    if (failed > 0) out.push(`${row.name}: ${failed} failed connections.`);
  }
  out.push(...notes);
  return out;
}

function soakLines(soaks: Map<string, Soak>): string[] {
  const third = Math.floor(settings.soakSeconds / 3);
  const out = [
    `Soak: ${settings.soakSeconds} s at full speed (${CONCURRENCY} clients doing handshakes, beside back-to-back 2-stream bulk transfers up and down); server RSS at ${third} s → at the end, and the peak:`,
    "",
  ];
  for (const [name, { samples, connections, errors, bytes }] of soaks) {
    const from = samples[Math.max(third - 1, 0)] ?? NaN;
    const to = samples.at(-1) ?? NaN;
    const grew = to - from;
    out.push(
      `- ${name}: ${mib(from)} → ${mib(to)} MiB (${grew >= 0 ? "+" : "−"}${
        mib(Math.abs(grew))
      }), peak ${mib(Math.max(...samples))} MiB; ${connections} connections${
        errors > 0 ? ` (${errors} failed)` : ""
      }, ${fixed(bytes / 1e9, 1)} GB moved`,
    );
  }
  return out;
}

function cpuTable(rows: readonly Row[]): string[] {
  const out = [
    "Load generator CPU per test: user+sys seconds (share of the test's wall time) / the server's CPU share; medians:",
    "",
    `| server | ${TESTS.join(" | ")} |`,
    `| --- |${TESTS.map(() => " ---: |").join("")}`,
  ];
  for (const row of rows) {
    if (row.server?.spec.connOnly) continue;
    const cells = TESTS.map((test) => {
      const runs = row.runs.get(test)!;
      return `${fixed(median(runs.map((m) => m.genCpu)), 2)} s (${
        percent(median(runs.map((m) => m.genShare)))
      }) / ${percent(median(runs.map((m) => m.serverShare)))}`;
    });
    out.push(`| ${row.name} | ${cells.join(" | ")} |`);
  }
  return out;
}

/**
 * Throughput and handshakes per second of the server's own CPU time: when
 * other work shares CPU 0 the server gets less of it and its rates drop, but
 * what it does per CPU-second stays put.
 */
function efficiencyTable(rows: readonly Row[]): string[] {
  const tests = TESTS.filter((test) => test !== "ping");
  const out = [
    "Per second of server CPU (rate ÷ the server's CPU share; steadier than the rates when other work shares CPU 0), medians:",
    "",
    `| server | ${
      tests.map((t) => t === "conn" ? "handshakes" : `${t} MB`).join(" | ")
    } |`,
    `| --- |${tests.map(() => " ---: |").join("")}`,
  ];
  for (const row of rows) {
    if (row.server === null || row.server.spec.connOnly) continue;
    const cells = tests.map((test) => {
      const key = test === "conn" ? "rate" : "mbps";
      return fixed(
        median(
          row.runs.get(test)!.map((m) => Number(m.result[key]) / m.serverShare),
        ),
        0,
      );
    });
    out.push(`| ${row.name} | ${cells.join(" | ")} |`);
  }
  return out;
}

/**
 * The handshake test at the default log level beside `--log-level warn`:
 * what the access log costs each runtime, in rate, tail and server CPU.
 */
function logTable(rows: readonly Row[]): string[] {
  const conn = (row: Row, key: string) =>
    median(row.runs.get("conn")!.map((m) => Number(m.result[key])));
  const cpuPerConnection = (row: Row) =>
    median(
      row.runs.get("conn")!.map((m) =>
        m.serverCpu / Number(m.result.completed) * 1e6
      ),
    );
  const out = [
    `The access log's cost and the runtime's floor: handshakes (${CONCURRENCY} clients) at the default log level (info: one JSON line per request, stderr to a file), at --log-level warn, and through the bare relay on the same runtime, medians:`,
    "",
    "| server | handshakes/s info | warn | bare | info ÷ warn | p99 ms info / warn / bare | server CPU µs per connection info / warn / bare | CPU info ÷ bare |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const row of rows) {
    if (row.server === null || row.server.spec.connOnly) continue;
    const warn = rows.find((other) => other.name === `${row.name}-warn`);
    const bare = rows.find((other) => other.name === `${row.name}-bare`);
    const cells = (f: (r: Row) => number, digits: number) =>
      [row, warn, bare].map((r) => r ? fixed(f(r), digits) : "–").join(
        " / ",
      );
    const rate = conn(row, "rate");
    const warnRate = warn ? conn(warn, "rate") : NaN;
    const bareRate = bare ? conn(bare, "rate") : NaN;
    const bareCpu = bare ? cpuPerConnection(bare) : NaN;
    out.push(
      `| ${row.name} | ${fixed(rate, 0)} | ${fixed(warnRate, 0)} | ${
        fixed(bareRate, 0)
      } | ${fixed(rate / warnRate, 2)} | ${
        cells((r) => conn(r, "p99_ms"), 1)
      } | ${cells(cpuPerConnection, 0)} | ${
        fixed(cpuPerConnection(row) / bareCpu, 2)
      } |`,
    );
  }
  return out;
}

// ------------------------------------------------------------------ main

/**
 * What every run does first: reads the servers asked for (`defaults`
 * without `--servers`), builds the load generator, installs the peers if
 * asked, and prints the header, which it returns for the report.
 */
function prepare(defaults: string): { wanted: Set<string>; top: string[] } {
  const wanted = new Set((flags.servers ?? defaults).split(","));
  mkdirSync(work, { recursive: true });
  run("cc", ["-O2", "-Wall", "-o", loadgen, `${root}scripts/bench/loadgen.c`]);
  if (flags.peers) installPeers();
  const top = header();
  console.error(top.join("\n"));
  return { wanted, top };
}

/** The tests of the `--unpinned` run. */
const UNPINNED_TESTS = ["conn", "8↑", "8↓"] as const;

/**
 * The multi-core run: every server unpinned, handshakes and 8 streams,
 * and the server CPU each connection costs.
 */
async function unpinnedMain(): Promise<void> {
  const { wanted, top } = prepare("bun,bun-w2,deno,deno-w2,microsocks");
  const rows: Row[] = [];
  for (const spec of serverSpecs(wanted)) {
    console.error(`starting ${spec.label}`);
    const server = await startServer(spec);
    const runs = new Map(TESTS.map((test) => [test, [] as Measured[]]));
    rows.push({ name: spec.name, label: spec.label, server, runs });
    const warm = { cpu: GENERATOR_CPU, what: `${spec.name} warm-up` };
    // As long as a measured round: JIT tiers take seconds to settle, and a
    // server in service is warm.
    await measure(
      server,
      words(`conn --seconds ${settings.connSeconds}`),
      warm,
    );
  }
  // A light load too (4 clients), where no server is short of CPU: the
  // CPU a connection costs without the contention of a saturated machine.
  const light = new Map<string, Measured[]>();
  const lightArgs = words(
    `conn --concurrency 4 --seconds ${settings.connSeconds} --max 2000000`,
  );
  for (let round = 1; round <= settings.rounds; round++) {
    for (const test of UNPINNED_TESTS) {
      for (const row of rows) {
        console.error(`round ${round}/${settings.rounds}: ${row.name} ${test}`);
        row.runs.get(test)!.push(await runTest(row.server, test));
      }
    }
    for (const row of rows) {
      console.error(`round ${round}/${settings.rounds}: ${row.name} light`);
      const runs = light.get(row.name) ?? [];
      runs.push(
        await measure(row.server, lightArgs, {
          cpu: GENERATOR_CPU,
          what: `${row.name} light`,
        }),
      );
      light.set(row.name, runs);
    }
  }
  const cpuPer = (runs: readonly Measured[]) =>
    median(runs.map((m) => m.serverCpu / Number(m.result.completed) * 1e6));
  const value = (row: Row, test: Test, key: string) =>
    median(row.runs.get(test)!.map((m) => Number(m.result[key])));
  const out = [
    `Unpinned (server and generator free to use all ${os.cpus().length} CPUs), ${CONCURRENCY} clients doing handshakes, medians of ${settings.rounds}:`,
    "",
    "| server | handshakes/s | p50 / p99 ms | 8 streams ↑ MB/s | 8 streams ↓ | server CPU µs / connection | at 4 clients: handshakes/s, CPU µs / connection |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const row of rows) {
    const cpu = cpuPer(row.runs.get("conn")!);
    const lightRuns = light.get(row.name)!;
    const lightRate = median(lightRuns.map((m) => Number(m.result.rate)));
    out.push(
      `| ${row.label} | ${fixed(value(row, "conn", "rate"), 0)} | ${
        fixed(value(row, "conn", "p50_ms"), 1)
      } / ${fixed(value(row, "conn", "p99_ms"), 1)} | ${
        mb(value(row, "8↑", "mbps"))
      } | ${mb(value(row, "8↓", "mbps"))} | ${fixed(cpu, 0)} | ${
        fixed(lightRate, 0)
      }, ${fixed(cpuPer(lightRuns), 0)} |`,
    );
  }
  console.log(
    [
      ...top,
      "",
      ...out,
      "",
      `Finished: ${new Date().toISOString()}, load average ${loadAverage()}`,
    ].join("\n"),
  );
}

async function main(): Promise<void> {
  if (flags.unpinned) return await unpinnedMain();
  const { wanted, top } = prepare(
    "direct,deno,deno-warn,deno-bare,bun,bun-warn,bun-bare,node,node-warn,node-bare,microsocks,dante",
  );

  const rows: Row[] = [];
  const fresh = () => new Map(TESTS.map((test) => [test, [] as Measured[]]));
  if (wanted.has("direct")) {
    rows.push({
      name: "direct",
      label: "direct (no proxy)",
      server: null,
      runs: fresh(),
    });
  }
  for (const spec of serverSpecs(wanted)) {
    console.error(`starting ${spec.label}`);
    const server = await startServer(spec);
    rows.push({ name: spec.name, label: spec.label, server, runs: fresh() });
  }
  const memories = new Map<string, Memory>();
  for (const { name, server } of rows) {
    if (server === null) continue;
    // Warm-up (JIT, buffer pools), not recorded.
    const warm = { cpu: GENERATOR_CPU, what: `${name} warm-up` };
    if (!server.spec.connOnly) {
      console.error(`memory and stalled reader: ${name}`);
      memories.set(name, await memory(server));
      await measure(server, words(`tput --bytes ${64 * MiB} --dir up`), warm);
    }
    // As long as a measured round: JIT tiers take seconds to settle, and a
    // server in service is warm.
    await measure(
      server,
      words(`conn --seconds ${settings.connSeconds}`),
      warm,
    );
  }
  // Rounds outside, servers inside: noise from the rest of the machine
  // spreads over every server instead of landing on one.
  for (let round = 1; round <= settings.rounds; round++) {
    for (const test of TESTS) {
      for (const row of rows) {
        if (row.server?.spec.connOnly && test !== "conn") continue;
        console.error(`round ${round}/${settings.rounds}: ${row.name} ${test}`);
        row.runs.get(test)!.push(await runTest(row.server, test));
      }
    }
  }
  const soaks = new Map<string, Soak>();
  for (const { name, server } of rows) {
    if (server === null || server.spec.connOnly) continue;
    console.error(`soak: ${name}, ${settings.soakSeconds} s`);
    soaks.set(name, await soak(server));
  }
  const floods = new Map<string, Flood>();
  for (const { name, server } of rows) {
    if (server === null || !["deno", "bun", "node"].includes(name)) continue;
    console.error(`fairness: ${name}, ${settings.floodSeconds} s twice`);
    floods.set(name, await flood(server));
  }
  console.log(
    [
      ...top,
      "",
      ...table(rows, memories),
      "",
      ...footnotes(rows, memories),
      "",
      ...soakLines(soaks),
      "",
      ...floodLines(floods),
      "",
      ...cpuTable(rows),
      "",
      ...efficiencyTable(rows),
      "",
      ...logTable(rows),
      "",
      `Finished: ${new Date().toISOString()}, load average ${loadAverage()}`,
    ].join("\n"),
  );
}

let failed = false;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    void stopAll().finally(() => process.exit(130));
  });
}
try {
  await main();
} catch (error) {
  failed = true;
  console.error(error instanceof Error ? error.message : error);
} finally {
  await stopAll();
}
if (failed) process.exit(1);
