/**
 * The floor of the benchmark's handshake test: the least a SOCKS5 relay can
 * do on each runtime's own socket API, with no checks, no log, no limits and
 * no metrics. It answers the greeting with method 02, accepts any login,
 * reads one CONNECT to an IPv4 address, dials it, replies success and
 * relays both ways. Nothing here is the product: the bench runs it to show
 * what accept, dial, relay and close cost a runtime, beside edgesocks's CPU
 * per connection.
 *
 * ```sh
 * deno run -A scripts/bench/bare_relay.ts PORT
 * bun scripts/bench/bare_relay.ts PORT
 * node scripts/bench/bare_relay.ts PORT
 * ```
 *
 * It assumes the bench's generator: each message arrives whole, in one read.
 *
 * @module
 */

import * as net from "node:net";
import process from "node:process";

const port = Number(process.argv[2]);
const METHOD = new Uint8Array([5, 2]);
const LOGIN_OK = new Uint8Array([1, 0]);
const SUCCEEDED = new Uint8Array([5, 0, 0, 1, 0, 0, 0, 0, 0, 0]);

// The destination of a CONNECT request to an IPv4 address.
function destination(request: Uint8Array): { host: string; port: number } {
  return {
    host: request.subarray(4, 8).join("."),
    port: request[8]! << 8 | request[9]!,
  };
}

interface Globals {
  Deno?: {
    listen(options: { hostname: string; port: number }): AsyncIterable<
      DenoConn
    >;
    connect(options: { hostname: string; port: number }): Promise<DenoConn>;
  };
  Bun?: {
    listen(options: BunOptions): unknown;
    connect(options: BunOptions): Promise<BunSocket>;
  };
}
interface DenoConn {
  read(buffer: Uint8Array): Promise<number | null>;
  write(bytes: Uint8Array): Promise<number>;
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  close(): void;
}
interface BunSocket {
  data: { step: number; peer: BunSocket | null };
  write(bytes: Uint8Array): number;
  end(): void;
}
interface BunOptions {
  hostname: string;
  port: number;
  socket: {
    open?(socket: BunSocket): void;
    data(socket: BunSocket, bytes: Uint8Array): void;
    close(socket: BunSocket): void;
    error?(socket: BunSocket): void;
    connectError?(): void;
  };
}
const { Deno, Bun } = globalThis as unknown as Globals;

if (Deno !== undefined) {
  const closeQuietly = (conn: DenoConn | null) => {
    try {
      conn?.close();
    } catch {
      // Already closed.
    }
  };
  const readOnce = async (conn: DenoConn, buffer: Uint8Array) =>
    buffer.subarray(0, (await conn.read(buffer)) ?? 0);
  // Read and write, as edgesocks does: Deno's streams cost more. Either
  // side ending closes both, which ends the other copy too.
  const copy = async (from: DenoConn, to: DenoConn) => {
    const chunk = new Uint8Array(16 * 1024);
    try {
      for (let n = await from.read(chunk); n; n = await from.read(chunk)) {
        await to.write(chunk.subarray(0, n));
      }
    } finally {
      closeQuietly(from);
      closeQuietly(to);
    }
  };
  const serve = async (client: DenoConn) => {
    let target: DenoConn | null = null;
    try {
      const buffer = new Uint8Array(512);
      await readOnce(client, buffer);
      await client.write(METHOD);
      await readOnce(client, buffer);
      await client.write(LOGIN_OK);
      const { host, port } = destination(await readOnce(client, buffer));
      target = await Deno.connect({ hostname: host, port });
      await client.write(SUCCEEDED);
      await Promise.allSettled([copy(client, target), copy(target, client)]);
    } finally {
      closeQuietly(client);
      closeQuietly(target);
    }
  };
  for await (const client of Deno.listen({ hostname: "127.0.0.1", port })) {
    serve(client).catch(() => {});
  }
} else if (Bun !== undefined) {
  const targetHandlers: BunOptions["socket"] = {
    data: (socket, bytes) => void socket.data.peer?.write(bytes),
    close: (socket) => socket.data.peer?.end(),
    connectError() {},
  };
  Bun.listen({
    hostname: "127.0.0.1",
    port,
    socket: {
      open(socket) {
        socket.data = { step: 0, peer: null };
      },
      data(socket, bytes) {
        const state = socket.data;
        if (state.step === 0) socket.write(METHOD);
        else if (state.step === 1) socket.write(LOGIN_OK);
        else if (state.step === 2) {
          const { host, port } = destination(bytes);
          Bun.connect({
            hostname: host,
            port,
            socket: targetHandlers,
          }).then((target) => {
            target.data = { step: 3, peer: socket };
            state.peer = target;
            socket.write(SUCCEEDED);
          }, () => socket.end());
        } else state.peer?.write(bytes);
        state.step++;
      },
      close: (socket) => socket.data.peer?.end(),
    },
  });
} else {
  net.createServer((client) => {
    let step = 0;
    client.on("error", () => {});
    client.on("data", (bytes: Uint8Array) => {
      if (step === 0) client.write(METHOD);
      else if (step === 1) client.write(LOGIN_OK);
      else if (step === 2) {
        client.pause();
        const target = net.connect(destination(bytes), () => {
          client.write(SUCCEEDED);
          client.removeAllListeners("data");
          client.pipe(target).on("error", () => {});
          target.pipe(client);
          client.resume();
        });
        target.on("error", () => client.destroy());
        client.on("close", () => target.destroy());
      }
      step++;
    });
  }).listen(port, "127.0.0.1");
}
