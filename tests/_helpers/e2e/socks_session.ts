/**
 * Raw SOCKS5 sessions from a chosen loopback source address (127.0.0.2 is
 * "another client" to the server), with any command, and the check that a
 * connection was closed before any byte of it was answered.
 *
 * @module
 */

import assert from "node:assert/strict";
import { hex, openSocket, RawSocket } from "./raw_socket.ts";
import {
  type Credentials,
  type Endpoint,
  greeting,
  readReply,
  type ReplyFrame,
  request,
  userPass,
} from "./socks_raw.ts";

/**
 * SOCKS commands (RFC 1928 §4), written out rather than imported so the
 * tests do not lean on the code under test.
 *
 * @example
 * ```ts
 * import { CMD } from "./socks_session.ts";
 * console.log(CMD.bind); // 2
 * ```
 */
export const CMD = { connect: 0x01, bind: 0x02, udp: 0x03 } as const;

/**
 * How {@linkcode socksRequest} talks to the proxy.
 *
 * @example
 * ```ts
 * import type { SessionOptions } from "./socks_session.ts";
 * const options: SessionOptions = { from: "127.0.0.2", command: 0x02 };
 * ```
 */
export interface SessionOptions {
  /** Source address; default: the system's choice (127.0.0.1). */
  from?: string;
  /** Log in with these (method 0x02); default: offer only 0x00. */
  credentials?: Credentials;
  /** The request's CMD; default CONNECT. */
  command?: number;
}

/**
 * Connects to `proxy` from `from` (any loopback address), half-open.
 *
 * @example
 * ```ts
 * import { connectFrom } from "./socks_session.ts";
 * async function other(port: number) {
 *   const raw = await connectFrom({ host: "127.0.0.1", port }, "127.0.0.2");
 *   raw.destroy();
 * }
 * ```
 */
export async function connectFrom(
  proxy: Endpoint,
  from?: string,
  ms = 5_000,
): Promise<RawSocket> {
  if (from === undefined) {
    return await RawSocket.connect(proxy.host, proxy.port, ms);
  }
  return new RawSocket(
    await openSocket(
      {
        host: proxy.host,
        port: proxy.port,
        localAddress: from,
        allowHalfOpen: true,
      },
      `connecting to ${proxy.host}:${proxy.port} from ${from}`,
      ms,
    ),
  );
}

/**
 * Negotiates on an open connection: offers 0x02 with `credentials`, else
 * 0x00, asserts the server picked it, and logs in. Returns the RFC 1929
 * status (0 = success), or `null` without login.
 *
 * @example
 * ```ts
 * import { negotiate } from "./socks_session.ts";
 * import type { RawSocket } from "./raw_socket.ts";
 * async function login(raw: RawSocket) {
 *   console.log(await negotiate(raw, { username: "alice", password: "s3cret" })); // 0
 * }
 * ```
 */
export async function negotiate(
  raw: RawSocket,
  credentials?: Credentials,
): Promise<number | null> {
  const method = credentials === undefined ? 0x00 : 0x02;
  await raw.write(greeting([method]));
  assert.equal(hex(await raw.read(2)), hex(new Uint8Array([0x05, method])));
  if (credentials === undefined) return null;
  await raw.write(userPass(credentials));
  const status = await raw.read(2);
  assert.equal(status[0], 0x01, "RFC 1929 status VER");
  return status[1]!;
}

/**
 * Opens a connection, negotiates (asserting a successful login when
 * `credentials` are given), sends one request and reads the reply frame.
 * The caller destroys `raw`.
 *
 * @example
 * ```ts
 * import { socksRequest } from "./socks_session.ts";
 * async function check(port: number, echoPort: number) {
 *   const { raw, reply } = await socksRequest(
 *     { host: "127.0.0.1", port },
 *     { host: "127.0.0.1", port: echoPort },
 *     { from: "127.0.0.2" },
 *   );
 *   console.log(reply.reply); // 0
 *   raw.destroy();
 * }
 * ```
 */
export async function socksRequest(
  proxy: Endpoint,
  destination: Endpoint,
  options: SessionOptions = {},
): Promise<{ raw: RawSocket; reply: ReplyFrame }> {
  const raw = await connectFrom(proxy, options.from);
  try {
    const status = await negotiate(raw, options.credentials);
    if (status !== null) assert.equal(status, 0x00, "login succeeds");
    await raw.write(request(destination, options.command ?? CMD.connect));
    return { raw, reply: await readReply(raw) };
  } catch (error) {
    raw.destroy();
    throw error;
  }
}

/**
 * Sends a greeting and asserts the server closes the connection without
 * answering a byte (a FIN, or a reset when the greeting reached a socket
 * the server had closed unread).
 *
 * @example
 * ```ts
 * import { assertClosedUnanswered, connectFrom } from "./socks_session.ts";
 * async function refused(port: number) {
 *   const raw = await connectFrom({ host: "127.0.0.1", port });
 *   try {
 *     await assertClosedUnanswered(raw);
 *   } finally {
 *     raw.destroy();
 *   }
 * }
 * ```
 */
export async function assertClosedUnanswered(
  raw: RawSocket,
  ms = 3_000,
): Promise<void> {
  // The write may fail when the close got here first: that is the point.
  await raw.write(greeting([0x00, 0x02]), ms).catch(() => {});
  const ending = await raw.ended(ms);
  assert.equal(raw.received, 0, "not one byte answered");
  if (ending.error !== null) {
    const code = (ending.error as { code?: string }).code;
    assert.ok(
      code === "ECONNRESET" || code === "EPIPE",
      `closed with ${code}: ${ending.error.message}`,
    );
  }
}
