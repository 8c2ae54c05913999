/**
 * Runs a {@linkcode ClientHandshake} over anything that reads and writes
 * bytes. Each runtime's socket is wrapped as a {@linkcode HandshakeTransport}
 * in a few lines, so the protocol lives here and in the handshake only.
 *
 * @module
 */

import type { Connection } from "../net/connection.ts";
import { untilAborted } from "./_abort.ts";
import type {
  ClientHandshake,
  ClientHandshakeEvent,
  ClientHandshakeStep,
} from "./handshake.ts";

/**
 * The two things a handshake needs from a socket.
 *
 * @example
 * ```ts
 * import type { HandshakeTransport } from "./negotiate.ts";
 * const silent: HandshakeTransport = {
 *   read: () => Promise.resolve(null),
 *   write: () => Promise.resolve(),
 * };
 * ```
 */
export interface HandshakeTransport {
  /**
   * The next bytes, or `null` at the peer's FIN. `needed` is how many the
   * handshake still wants at least, and never more than the current
   * message holds: a transport that can read exactly that many (Deno's
   * `read(buffer)`) never takes a byte of the tunnel; one that gets
   * whatever arrived (a `data` event) may return more, and the extra comes
   * back as `leftover`.
   */
  read(needed: number): Promise<Uint8Array | null>;
  /** Sends bytes; resolves when the socket can take more. */
  write(bytes: Uint8Array): Promise<void>;
}

/**
 * Where a handshake stops for its caller: BIND's first reply, or the final
 * success reply with the bytes that came after it.
 *
 * @example
 * ```ts
 * import type { HandshakeOutcome } from "./negotiate.ts";
 * const outcome: HandshakeOutcome = {
 *   type: "established",
 *   reply: { reply: 0, bound: { type: 1, host: "127.0.0.1", port: 4000 } },
 *   leftover: new Uint8Array(0),
 * };
 * ```
 */
export type HandshakeOutcome = Extract<
  ClientHandshakeEvent,
  { type: "bound" | "established" }
>;

/**
 * Options of {@linkcode negotiate}.
 *
 * @example
 * ```ts
 * import type { NegotiateOptions } from "./negotiate.ts";
 * const options: NegotiateOptions = { signal: AbortSignal.timeout(5000) };
 * ```
 */
export interface NegotiateOptions {
  /**
   * The step to go on from; default `handshake.start()`. After a `bound`
   * outcome, pass `handshake.receive(new Uint8Array(0))`.
   */
  from?: ClientHandshakeStep;
  /** Gives up at once: the promise rejects with the signal's reason. */
  signal?: AbortSignal;
}

/**
 * Drives `handshake` over `transport` until it is `bound` or
 * `established`. Rejects with the handshake's typed error (the caller then
 * closes the socket), the transport's error, or the signal's reason.
 *
 * @example
 * ```ts
 * import { ClientHandshake } from "./handshake.ts";
 * import { negotiate, type HandshakeTransport } from "./negotiate.ts";
 * async function open(transport: HandshakeTransport) {
 *   const handshake = new ClientHandshake({
 *     command: 0x01,
 *     destination: { type: 0x03, host: "example.com", port: 80 },
 *   });
 *   const outcome = await negotiate(transport, handshake);
 *   console.log(outcome.reply.bound);
 * }
 * ```
 */
export async function negotiate(
  transport: HandshakeTransport,
  handshake: ClientHandshake,
  options: NegotiateOptions = {},
): Promise<HandshakeOutcome> {
  const { signal } = options;
  signal?.throwIfAborted();
  let step = options.from ?? handshake.start();
  // Bounded: every message is at most 263 bytes and each read brings at
  // least one, or ends the loop.
  for (;;) {
    if (step.send.length > 0) {
      await untilAborted(transport.write(step.send), signal);
    }
    const { event } = step;
    switch (event.type) {
      case "failed":
        throw event.error;
      case "bound":
      case "established":
        return event;
      case "read": {
        const bytes = await untilAborted(transport.read(event.needed), signal);
        step = bytes === null ? handshake.end() : handshake.receive(bytes);
      }
    }
  }
}

/**
 * A {@linkcode HandshakeTransport} over a {@linkcode Connection}: reads
 * return whole chunks, so the tunnel's first bytes may come back as
 * leftover (see {@linkcode withLeftover}).
 *
 * @example
 * ```ts
 * import type { Connection } from "../net/connection.ts";
import { untilAborted } from "./_abort.ts";
 * import { connectionTransport } from "./negotiate.ts";
 * function transportOf(conn: Connection) {
 *   return connectionTransport(conn);
 * }
 * ```
 */
export function connectionTransport(conn: Connection): HandshakeTransport {
  return {
    read: () => conn.read(),
    write: (bytes) => conn.write(bytes),
  };
}

/**
 * `conn`, with `leftover` as the first chunk its reads return: bytes that
 * arrived with the proxy's reply reach the reader before anything else.
 *
 * @example
 * ```ts
 * import type { Connection } from "../net/connection.ts";
import { untilAborted } from "./_abort.ts";
 * import { withLeftover } from "./negotiate.ts";
 * async function first(conn: Connection) {
 *   const tunnel = withLeftover(conn, new Uint8Array([72, 105]));
 *   console.log(await tunnel.read()); // Uint8Array(2) [ 72, 105 ]
 * }
 * ```
 */
export function withLeftover(
  conn: Connection,
  leftover: Uint8Array,
): Connection {
  if (leftover.length === 0) return conn;
  let pending: Uint8Array | null = leftover;
  let closed = false;
  return {
    localAddress: conn.localAddress,
    remoteAddress: conn.remoteAddress,
    read() {
      if (closed) return Promise.resolve(null);
      const chunk = pending;
      if (chunk === null) return conn.read();
      pending = null;
      return Promise.resolve(chunk);
    },
    write: (bytes) => conn.write(bytes),
    closeWrite: () => conn.closeWrite(),
    close() {
      closed = true;
      pending = null;
      conn.close();
    },
  };
}
