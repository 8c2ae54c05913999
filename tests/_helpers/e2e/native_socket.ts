/**
 * Driving what `connectNative()` returns on any runtime: a `net.Socket`
 * (Node, Bun) or a `Deno.Conn` (Deno), read and written with bounded
 * waits.
 *
 * @module
 */

import type { Socket } from "node:net";
import type { NativeSocket } from "../../../src/client/connect.ts";
import type { DenoConn } from "../../../src/client/native_deno.ts";
import { withTimeout } from "./with_timeout.ts";

// What connectNative() gives, with the Node side's full type.
type Native = Socket | DenoConn;

function isNodeSocket(socket: Native): socket is Socket {
  return "destroy" in socket;
}

/**
 * Reads a native socket as a byte stream with bounded waits. A
 * `net.Socket` is handed over paused: the reader attaches its listeners,
 * then resumes it.
 *
 * @example
 * ```ts
 * import { NativeReader } from "./native_socket.ts";
 * import type { NativeSocket } from "../../../src/client/connect.ts";
 * async function all(socket: NativeSocket) {
 *   return await new NativeReader(socket).toEnd(5_000);
 * }
 * ```
 */
export class NativeReader {
  #socket: Native;
  #held: Uint8Array[] = [];
  #eof = false;
  #error: Error | null = null;
  #wake: (() => void) | null = null;

  constructor(native: NativeSocket) {
    const socket = native as Native;
    this.#socket = socket;
    if (isNodeSocket(socket)) {
      socket.on("data", (chunk: Uint8Array) => {
        this.#held.push(chunk);
        this.#notify();
      });
      socket.once("end", () => {
        this.#eof = true;
        this.#notify();
      });
      socket.once("error", (error) => {
        this.#error = error;
        this.#notify();
      });
      socket.resume();
    }
  }

  /** Exactly `count` bytes, or fewer if the peer ends first. */
  async bytes(count: number, ms = 5_000): Promise<Uint8Array> {
    await withTimeout(this.#fill(count), ms, `reading ${count} bytes`);
    return this.#take(count);
  }

  /** Everything up to the peer's FIN. */
  async toEnd(ms = 5_000): Promise<Uint8Array> {
    await withTimeout(this.#fill(Infinity), ms, "reading to the end");
    return this.#take(Infinity);
  }

  #length(): number {
    return this.#held.reduce((sum, chunk) => sum + chunk.length, 0);
  }

  // Bounded by the caller's deadline; each round brings bytes or the end.
  async #fill(count: number): Promise<void> {
    while (this.#length() < count && !this.#eof) {
      if (this.#error !== null) throw this.#error;
      const socket = this.#socket;
      if (isNodeSocket(socket)) {
        await new Promise<void>((resolve) => this.#wake = resolve);
        continue;
      }
      const buffer = new Uint8Array(16 * 1024);
      const read = await socket.read(buffer);
      if (read === null) this.#eof = true;
      else this.#held.push(buffer.subarray(0, read));
    }
  }

  #take(count: number): Uint8Array {
    const all = join(this.#held);
    const taken = all.subarray(0, Math.min(count, all.length));
    this.#held = taken.length < all.length ? [all.subarray(taken.length)] : [];
    return taken;
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }
}

/**
 * Writes `bytes`; resolves once the runtime has taken them.
 *
 * @example
 * ```ts
 * import { writeNative } from "./native_socket.ts";
 * import type { NativeSocket } from "../../../src/client/connect.ts";
 * async function hello(socket: NativeSocket) {
 *   await writeNative(socket, new TextEncoder().encode("hello"));
 * }
 * ```
 */
export async function writeNative(
  native: NativeSocket,
  bytes: Uint8Array,
): Promise<void> {
  const socket = native as Native;
  if (isNodeSocket(socket)) {
    await withTimeout(
      new Promise<void>((resolve, reject) =>
        socket.write(bytes, (error) => error ? reject(error) : resolve())
      ),
      5_000,
      "writing to the native socket",
    );
    return;
  }
  for (let done = 0; done < bytes.length;) {
    done += await withTimeout(
      socket.write(bytes.subarray(done)),
      5_000,
      "writing to the Deno.Conn",
    );
  }
}

/**
 * Half-closes (FIN after what is written); reading goes on.
 *
 * @example
 * ```ts
 * import { endNative } from "./native_socket.ts";
 * import type { NativeSocket } from "../../../src/client/connect.ts";
 * async function done(socket: NativeSocket) {
 *   await endNative(socket);
 * }
 * ```
 */
export async function endNative(native: NativeSocket): Promise<void> {
  const socket = native as Native;
  if (isNodeSocket(socket)) {
    await withTimeout(
      new Promise<void>((resolve) => socket.end(() => resolve())),
      5_000,
      "half-closing the native socket",
    );
    return;
  }
  await withTimeout(socket.closeWrite(), 5_000, "half-closing the Deno.Conn");
}

/**
 * Closes the socket at once.
 *
 * @example
 * ```ts
 * import { closeNative } from "./native_socket.ts";
 * import type { NativeSocket } from "../../../src/client/connect.ts";
 * function done(socket: NativeSocket) {
 *   closeNative(socket);
 * }
 * ```
 */
export function closeNative(native: NativeSocket): void {
  const socket = native as Native;
  if (isNodeSocket(socket)) socket.destroy();
  else {
    try {
      socket.close();
    } catch {
      // Already closed.
    }
  }
}

function join(chunks: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((sum, c) => sum + c.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}
