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
import { readDescriptorLimit } from "./_descriptor_limit.ts";
import { hostOf, nextReadSize, type ReadSizes } from "./_shared.ts";

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
  listen(
    options: DenoAddr & { transport: "tcp"; reusePort?: boolean },
  ): DenoListener;
  connect(
    options: DenoAddr & { transport: "tcp"; signal?: AbortSignal },
  ): Promise<DenoConn>;
}
const Deno = (globalThis as unknown as { Deno: DenoApi }).Deno;

// Reads start small so an idle tunnel pins little memory, and double while
// they come back full. Forwarding reuses one buffer per direction, so it
// can afford larger reads: fewer syscalls per byte, and no fresh pages
// per chunk.
const READS: ReadSizes = { min: 1024, max: 64 * 1024 };
const FORWARD_READS: ReadSizes = { min: 1024, max: 256 * 1024 };

class DenoConnection implements Connection {
  readonly localAddress;
  readonly remoteAddress;
  #conn: DenoConn;
  #closed = false;
  #writeClosed = false;
  #readSize = READS.min;

  constructor(conn: DenoConn) {
    this.#conn = conn;
    conn.setNoDelay(true);
    this.localAddress = addressOf(conn.localAddr);
    this.remoteAddress = addressOf(conn.remoteAddr);
  }

  async read(): Promise<Uint8Array | null> {
    const buffer = new Uint8Array(this.#readSize);
    const count = await this.#readInto(buffer);
    if (count === null) return null;
    this.#readSize = nextReadSize(buffer.length, count, READS);
    return buffer.subarray(0, count);
  }

  async write(bytes: Uint8Array): Promise<void> {
    try {
      // Deno.Conn.write may take only part of the bytes.
      for (let done = 0; done < bytes.length && !this.#closed;) {
        done += await this.#conn.write(bytes.subarray(done));
      }
    } catch (error) {
      if (!this.#closed) throw error;
    }
  }

  // BYOB with two buffers per direction: the next chunk is read into one
  // while the last is written from the other, so neither side of the
  // tunnel waits for the other's syscall; a buffer is read into again only
  // once its write is done.
  forwardTo(
    to: Connection,
    onChunk: (size: number) => void,
  ): Promise<void> | null {
    if (!(to instanceof DenoConnection)) return null;
    return (async () => {
      let buffer: Uint8Array = new Uint8Array(FORWARD_READS.min);
      // Made at the first chunk: an idle tunnel holds one buffer.
      let spare: Uint8Array | null = null;
      let count = await this.#readInto(buffer);
      while (count !== null) {
        onChunk(count);
        const size = nextReadSize(buffer.length, count, FORWARD_READS);
        if (spare === null || spare.length !== size) {
          spare = new Uint8Array(size);
        }
        // Either failing ends the tunnel at once (Promise.all also hears a
        // later failure of the other, so nothing rejects unhandled).
        const [, next] = await Promise.all([
          to.write(buffer.subarray(0, count)),
          this.#readInto(spare),
        ]);
        [buffer, spare] = [spare, buffer];
        count = next;
      }
      await to.closeWrite();
    })();
  }

  async closeWrite(): Promise<void> {
    if (this.#closed || this.#writeClosed) return;
    this.#writeClosed = true;
    try {
      await this.#conn.closeWrite();
    } catch {
      // The peer is already gone; there is nothing left to finish.
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#conn.close();
  }

  // null at EOF, or once close() has interrupted the read.
  async #readInto(buffer: Uint8Array): Promise<number | null> {
    if (this.#closed) return null;
    try {
      return await this.#conn.read(buffer);
    } catch (error) {
      if (this.#closed) return null;
      throw error;
    }
  }
}

function addressOf(addr: DenoAddr) {
  return { host: hostOf(addr.hostname), port: addr.port };
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
  listen(address, options = {}) {
    const listener = Deno.listen({
      hostname: address.host,
      port: address.port,
      transport: "tcp",
      ...(options.reusePort ? { reusePort: true } : {}),
    });
    let closed = false;
    const result: Listener = {
      address: {
        host: hostOf(listener.addr.hostname),
        port: listener.addr.port,
      },
      async accept() {
        for (;;) {
          if (closed) return null;
          try {
            return new DenoConnection(await listener.accept());
          } catch (error) {
            if (closed) return null;
            // The peer reset before the accept (as a load balancer's
            // health check does): nothing to hand over, take the next.
            if ((error as Error)?.name === "NotConnected") continue;
            throw error;
          }
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
    return new DenoConnection(conn);
  },
  async lookup(name) {
    const found = await lookup(name, { all: true, verbatim: true });
    return found.map((entry) => entry.address);
  },
  bindUdp: bindDgram,
  descriptorLimit: readDescriptorLimit,
};
