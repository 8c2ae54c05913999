/**
 * Bulk transfer through a CONNECT tunnel on each runtime, and a stalled
 * reader behind a fast writer:
 *
 * ```sh
 * deno run -A scripts/bench_transfer.ts [--mib 1024] [--rounds 3] [--runtimes deno,bun,node]
 * ```
 *
 * For each runtime it starts the edgesocks CLI as a child process, then:
 * - pushes `--mib` MiB up and then down through a tunnel to a local
 *   sink/source, checks a SHA-256 of what arrived, and reports the median
 *   MiB/s over `--rounds` with the same transfer over a direct connection;
 * - opens a tunnel to a destination that never reads, writes as fast as the
 *   tunnel takes for 3 s, and reports how much the server's RSS grew (it
 *   must stay flat: the relay holds one chunk per direction).
 *
 * Peak RSS is the child's VmHWM from /proc. Needs `npm run build` first for
 * Node. Everything talks to 127.0.0.1 only and every loop is bounded.
 *
 * @module
 */

import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import * as net from "node:net";
import process from "node:process";
import { parseArgs } from "node:util";
import { encodeGreeting, encodeRequest } from "../src/wire/mod.ts";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    mib: { type: "string", default: "1024" },
    rounds: { type: "string", default: "3" },
    runtimes: { type: "string", default: "deno,bun,node" },
  },
});
const totalBytes = Number(values.mib) * 1024 * 1024;
const rounds = Number(values.rounds);
const root = new URL("..", import.meta.url).pathname;
const bin = `${root}node_modules/.bin`;
const commands: Record<string, string[]> = {
  deno: [`${bin}/deno`, "run", "-A", `${root}src/cli.ts`],
  bun: [`${bin}/bun`, `${root}src/cli.ts`],
  node: [
    process.execPath.endsWith("node") ? process.execPath : "node",
    `${root}npm/esm/src/cli.js`,
  ],
};
const CHUNK = new Uint8Array(64 * 1024).fill(0x5a);

interface Endpoint {
  port: number;
  close(): Promise<void>;
}

// A sink that hashes what it gets, and a source that sends `totalBytes`.
function startSinkSource(): Promise<
  Endpoint & { digest: () => Promise<string> }
> {
  let digest: Promise<string> = Promise.resolve("");
  const server = net.createServer((socket) => {
    socket.once("data", (first) => {
      if (first[0] === 0x55) { // "U": the client uploads, we hash
        const hash = createHash("sha256");
        hash.update(first.subarray(1));
        digest = new Promise((resolve) => {
          socket.on("data", (chunk) => hash.update(chunk));
          socket.on("end", () => {
            resolve(hash.digest("hex"));
            socket.end();
          });
        });
      } else { // "D": we send totalBytes
        socket.pause();
        void writeAll(socket, totalBytes).then(() => socket.end());
      }
    });
    socket.on("error", () => {});
  });
  return listening(server, { digest: () => digest });
}

// A destination that accepts and never reads.
function startStalled(): Promise<Endpoint> {
  const sockets: net.Socket[] = [];
  const server = net.createServer({ pauseOnConnect: true }, (socket) => {
    sockets.push(socket);
    socket.on("error", () => {});
  });
  return listening(server, {
    closeSockets: () => sockets.forEach((s) => s.destroy()),
  });
}

function listening<T extends object>(
  server: net.Server,
  extra: T,
): Promise<Endpoint & T> {
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      resolve({
        ...extra,
        port: (server.address() as net.AddressInfo).port,
        close: () => new Promise((done) => server.close(() => done())),
      });
    });
  });
}

async function writeAll(socket: net.Socket, bytes: number): Promise<void> {
  for (let sent = 0; sent < bytes; sent += CHUNK.length) {
    const chunk = bytes - sent < CHUNK.length
      ? CHUNK.subarray(0, bytes - sent)
      : CHUNK;
    if (!socket.write(chunk)) {
      await new Promise((resolve) => socket.once("drain", resolve));
    }
  }
}

function expectedDigest(bytes: number): string {
  const hash = createHash("sha256");
  for (let sent = 0; sent < bytes; sent += CHUNK.length) {
    hash.update(
      bytes - sent < CHUNK.length ? CHUNK.subarray(0, bytes - sent) : CHUNK,
    );
  }
  return hash.digest("hex");
}

// Opens a socket to `port`, directly or through the proxy (no login).
async function open(
  port: number,
  proxyPort: number | null,
): Promise<net.Socket> {
  const socket = net.connect(proxyPort ?? port, "127.0.0.1");
  socket.setNoDelay(true);
  await new Promise((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  if (proxyPort === null) return socket;
  socket.write(encodeGreeting({ methods: [0] }));
  socket.write(encodeRequest({
    command: 1,
    destination: { type: 1, host: "127.0.0.1", port },
  }));
  let got = Buffer.alloc(0);
  while (got.length < 12) { // 2-byte method selection + 10-byte reply
    got = Buffer.concat([
      got,
      await new Promise<Buffer>((r) => socket.once("data", r)),
    ]);
  }
  if (got[1] !== 0 || got[3] !== 0) {
    throw new Error(`proxy refused: ${got.toString("hex")}`);
  }
  return socket;
}

async function upload(
  target: Awaited<ReturnType<typeof startSinkSource>>,
  proxyPort: number | null,
) {
  const socket = await open(target.port, proxyPort);
  const started = performance.now();
  socket.write(new Uint8Array([0x55]));
  await writeAll(socket, totalBytes);
  socket.end();
  await new Promise((resolve) => socket.once("close", resolve));
  const seconds = (performance.now() - started) / 1000;
  if (await target.digest() !== expectedDigest(totalBytes)) {
    throw new Error("upload checksum mismatch");
  }
  return totalBytes / 1024 / 1024 / seconds;
}

async function download(target: Endpoint, proxyPort: number | null) {
  const socket = await open(target.port, proxyPort);
  const started = performance.now();
  const hash = createHash("sha256");
  socket.write(new Uint8Array([0x44]));
  socket.on("data", (chunk) => hash.update(chunk));
  await new Promise((resolve) => socket.once("end", resolve));
  socket.destroy();
  const seconds = (performance.now() - started) / 1000;
  if (hash.digest("hex") !== expectedDigest(totalBytes)) {
    throw new Error("download checksum mismatch");
  }
  return totalBytes / 1024 / 1024 / seconds;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function memory(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = (key: string) =>
    Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN);
  return { rss: kib("VmRSS") / 1024, peak: kib("VmHWM") / 1024 };
}

async function startProxy(
  runtime: string,
): Promise<{ child: ChildProcess; port: number }> {
  const [command, ...args] = commands[runtime]!;
  const child = spawn(command!, [
    ...args,
    "--listen",
    "127.0.0.1:0",
    "--log-level",
    "warn",
  ], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const port = await new Promise<number>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(
      () => reject(new Error(`${runtime} did not start`)),
      20_000,
    );
    child.stdout!.on("data", (chunk) => {
      out += chunk;
      const match = /listening on 127\.0\.0\.1:(\d+)/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
  });
  return { child, port };
}

async function stalledGrowth(
  proxyPort: number,
  pid: number,
): Promise<{ before: number; after: number; pushed: number }> {
  const stalled = await startStalled();
  const socket = await open(stalled.port, proxyPort);
  const before = memory(pid).rss;
  let pushed = 0;
  const deadline = performance.now() + 3000;
  // Write while the tunnel takes bytes, for 3 s at most.
  while (performance.now() < deadline) {
    pushed += CHUNK.length;
    if (!socket.write(CHUNK)) {
      const drained = await Promise.race([
        new Promise((r) => socket.once("drain", () => r(true))),
        new Promise((r) =>
          setTimeout(() => r(false), Math.max(0, deadline - performance.now()))
        ),
      ]);
      if (!drained) break;
    }
  }
  await new Promise((r) => setTimeout(r, 500));
  const after = memory(pid).rss;
  socket.destroy();
  (stalled as unknown as { closeSockets(): void }).closeSockets();
  await stalled.close();
  return { before, after, pushed };
}

const target = await startSinkSource();
const rows: string[] = [];
const direct = { up: [] as number[], down: [] as number[] };
for (let i = 0; i < rounds; i++) {
  direct.up.push(await upload(target, null));
  direct.down.push(await download(target, null));
}
rows.push(
  `| direct | ${median(direct.up).toFixed(0)} | ${
    median(direct.down).toFixed(0)
  } | 1.00 / 1.00 | – | – |`,
);
for (const runtime of values.runtimes.split(",")) {
  const { child, port } = await startProxy(runtime);
  const up: number[] = [];
  const down: number[] = [];
  for (let i = 0; i < rounds; i++) {
    up.push(await upload(target, port));
    down.push(await download(target, port));
  }
  const peak = memory(child.pid!).peak;
  const stall = await stalledGrowth(port, child.pid!);
  child.kill("SIGTERM");
  await new Promise((resolve) => child.once("exit", resolve));
  rows.push(
    `| ${runtime} | ${median(up).toFixed(0)} | ${median(down).toFixed(0)} | ${
      (median(up) / median(direct.up)).toFixed(2)
    } / ${(median(down) / median(direct.down)).toFixed(2)} | ${
      peak.toFixed(0)
    } | ${stall.before.toFixed(0)} → ${stall.after.toFixed(0)} (${
      (stall.pushed / 1024 / 1024).toFixed(0)
    } MiB written) |`,
  );
}
await target.close();
console.log(
  `${values.mib} MiB each way, median of ${rounds} rounds, one stream`,
);
console.log(
  "| path | up MiB/s | down MiB/s | ratio to direct (up / down) | peak RSS MiB | stalled reader: RSS MiB |",
);
console.log("| --- | --- | --- | --- | --- | --- |");
for (const row of rows) console.log(row);
