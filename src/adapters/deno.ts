/**
 * The Deno adapter: `Deno.listen` / `Deno.connect` behind the
 * {@linkcode Network} contract. Names resolve through `node:dns`, which
 * asks the system resolver (getaddrinfo, so /etc/hosts counts); Deno's own
 * `Deno.resolveDns` queries DNS servers directly and would miss it.
 *
 * @module
 */

import { lookup } from "node:dns/promises";
import type { Connection, Listener, Network } from "../connection.ts";
import { bindDgram } from "./_dgram.ts";
import { hostOf } from "./_shared.ts";

// The slice of the Deno namespace this adapter uses, declared here so the
// file type-checks under tsc too.
interface DenoAddr {
  hostname: string;
  port: number;
}
interface DenoConn {
  readonly localAddr: DenoAddr;
  readonly remoteAddr: DenoAddr;
  read(buffer: Uint8Array): Promise<number | null>;
  write(bytes: Uint8Array): Promise<number>;
  closeWrite(): Promise<void>;
  close(): void;
  setNoDelay(noDelay?: boolean): void;
}
interface DenoListener {
  readonly addr: DenoAddr;
  accept(): Promise<DenoConn>;
  close(): void;
}
interface DenoApi {
  listen(options: DenoAddr & { transport: "tcp" }): DenoListener;
  connect(
    options: DenoAddr & { transport: "tcp"; signal?: AbortSignal },
  ): Promise<DenoConn>;
}
const Deno = (globalThis as unknown as { Deno: DenoApi }).Deno;

// Reads start small so an idle tunnel pins little memory, and double while
// they come back full, so a bulk transfer soon reads 64 KiB at a time.
const MIN_READ = 1024; // 4 KiB cost an idle tunnel about 9 KiB more RSS
const MAX_READ = 64 * 1024;

function wrap(conn: DenoConn): Connection {
  conn.setNoDelay(true);
  let closed = false;
  let writeClosed = false;
  let readSize = MIN_READ;
  const address = (addr: DenoAddr) => ({
    host: hostOf(addr.hostname),
    port: addr.port,
  });
  return {
    localAddress: address(conn.localAddr),
    remoteAddress: address(conn.remoteAddr),
    async read() {
      if (closed) return null;
      const buffer = new Uint8Array(readSize);
      let count: number | null;
      try {
        count = await conn.read(buffer);
      } catch (error) {
        if (closed) return null; // close() interrupted the read
        throw error;
      }
      if (count === null) return null;
      if (count === readSize) readSize = Math.min(readSize * 2, MAX_READ);
      return buffer.subarray(0, count);
    },
    async write(bytes) {
      try {
        // Deno.Conn.write may take only part of the bytes.
        for (let done = 0; done < bytes.length && !closed;) {
          done += await conn.write(bytes.subarray(done));
        }
      } catch (error) {
        if (!closed) throw error;
      }
    },
    async closeWrite() {
      if (closed || writeClosed) return;
      writeClosed = true;
      try {
        await conn.closeWrite();
      } catch {
        // The peer is already gone; there is nothing left to finish.
      }
    },
    close() {
      if (closed) return;
      closed = true;
      conn.close();
    },
  };
}

/**
 * Deno's network.
 *
 * @example
 * ```ts
 * import { network } from "./deno.ts";
 * const listener = await network.listen({ host: "127.0.0.1", port: 0 });
 * listener.close();
 * ```
 */
export const network: Network = {
  listen(address) {
    const listener = Deno.listen({
      hostname: address.host,
      port: address.port,
      transport: "tcp",
    });
    let closed = false;
    const result: Listener = {
      address: {
        host: hostOf(listener.addr.hostname),
        port: listener.addr.port,
      },
      async accept() {
        if (closed) return null;
        try {
          return wrap(await listener.accept());
        } catch (error) {
          if (closed) return null;
          throw error;
        }
      },
      close() {
        if (closed) return;
        closed = true;
        listener.close();
      },
    };
    return Promise.resolve(result);
  },
  async connect(options) {
    const conn = await Deno.connect({
      hostname: options.host,
      port: options.port,
      transport: "tcp",
      ...(options.signal ? { signal: options.signal } : {}),
    });
    return wrap(conn);
  },
  async lookup(name) {
    const found = await lookup(name, { all: true, verbatim: true });
    return found.map((entry) => entry.address);
  },
  bindUdp: bindDgram,
};
