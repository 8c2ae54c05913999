/**
 * A SOCKS5 client written out byte by byte, independent of the codecs under
 * test, for tests that assert the exact bytes the server sends.
 *
 * @module
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import * as net from "node:net";
import { hex, RawSocket } from "./raw_socket.ts";

/** A host (IPv4, IPv6 or name) and port. */
export interface Endpoint {
  /** IPv4 or IPv6 text, or a name. */
  host: string;
  /** TCP port. */
  port: number;
}

/** RFC 1929 credentials. */
export interface Credentials {
  /** UNAME. */
  username: string;
  /** PASSWD; may be empty. */
  password: string;
}

/**
 * A decoded reply, with the bytes it came in.
 *
 * @example
 * ```ts
 * import type { ReplyFrame } from "./socks_raw.ts";
 * const frame: ReplyFrame = {
 *   bytes: new Uint8Array([5, 0, 0, 1, 127, 0, 0, 1, 0, 80]),
 *   reply: 0, atyp: 1, host: "127.0.0.1", port: 80,
 * };
 * ```
 */
export interface ReplyFrame {
  /** The whole frame. */
  bytes: Uint8Array;
  /** REP. */
  reply: number;
  /** ATYP of BND.ADDR. */
  atyp: number;
  /** BND.ADDR as text (IPv6 in Node's compressed form). */
  host: string;
  /** BND.PORT. */
  port: number;
}

/**
 * The greeting offering `methods` (RFC 1928 §3).
 *
 * @example
 * ```ts
 * import { greeting } from "./socks_raw.ts";
 * console.log(greeting([0x00])); // Uint8Array(3) [ 5, 1, 0 ]
 * ```
 */
export function greeting(methods: readonly number[]): Uint8Array {
  return new Uint8Array([0x05, methods.length, ...methods]);
}

/**
 * A username/password request (RFC 1929 §2).
 *
 * @example
 * ```ts
 * import { userPass } from "./socks_raw.ts";
 * console.log(userPass({ username: "a", password: "b" })); // Uint8Array(5) [ 1, 1, 97, 1, 98 ]
 * ```
 */
export function userPass(credentials: Credentials): Uint8Array {
  const username = Buffer.from(credentials.username, "utf8");
  const password = Buffer.from(credentials.password, "utf8");
  return new Uint8Array([
    0x01,
    username.length,
    ...username,
    password.length,
    ...password,
  ]);
}

/**
 * A request (RFC 1928 §4) for `destination`: ATYP 1 or 4 for IP text, 3
 * for a name.
 *
 * @example
 * ```ts
 * import { request } from "./socks_raw.ts";
 * console.log(request({ host: "127.0.0.1", port: 80 })); // Uint8Array(10) [ 5, 1, 0, 1, 127, 0, 0, 1, 0, 80 ]
 * ```
 */
export function request(destination: Endpoint, command = 0x01): Uint8Array {
  const { host, port } = destination;
  const portBytes = [port >> 8, port & 0xff];
  const family = net.isIP(host);
  if (family === 4) {
    return new Uint8Array([
      0x05,
      command,
      0x00,
      0x01,
      ...host.split(".").map(Number),
      ...portBytes,
    ]);
  }
  if (family === 6) {
    return new Uint8Array([
      0x05,
      command,
      0x00,
      0x04,
      ...ipv6Bytes(host),
      ...portBytes,
    ]);
  }
  const name = Buffer.from(host, "utf8");
  return new Uint8Array([
    0x05,
    command,
    0x00,
    0x03,
    name.length,
    ...name,
    ...portBytes,
  ]);
}

/**
 * A failure reply as RFC 1928 §6 frames it when there is no address to
 * give: `05 REP 00 01 00 00 00 00 00 00`.
 *
 * @example
 * ```ts
 * import { failureReply } from "./socks_raw.ts";
 * console.log(failureReply(5).length); // 10
 * ```
 */
export function failureReply(reply: number): Uint8Array {
  return new Uint8Array([0x05, reply, 0x00, 0x01, 0, 0, 0, 0, 0, 0]);
}

/**
 * Reads one reply frame: its length depends on ATYP.
 *
 * @example
 * ```ts
 * import { readReply } from "./socks_raw.ts";
 * import type { RawSocket } from "./raw_socket.ts";
 * async function rep(raw: RawSocket) {
 *   return (await readReply(raw)).reply;
 * }
 * ```
 */
export async function readReply(
  raw: RawSocket,
  ms = 5_000,
): Promise<ReplyFrame> {
  const head = await raw.read(4, ms);
  const atyp = head[3]!;
  let rest: Uint8Array;
  let host: string;
  if (atyp === 0x01) {
    rest = await raw.read(6, ms);
    host = [...rest.subarray(0, 4)].join(".");
  } else if (atyp === 0x04) {
    rest = await raw.read(18, ms);
    host = formatIPv6(rest.subarray(0, 16));
  } else if (atyp === 0x03) {
    const length = await raw.read(1, ms);
    const name = await raw.read(length[0]! + 2, ms);
    rest = new Uint8Array([...length, ...name]);
    host = Buffer.from(name.subarray(0, -2)).toString("utf8");
  } else {
    throw new Error(`Reply has ATYP ${atyp}: ${hex(head)}`);
  }
  const port = (rest[rest.length - 2]! << 8) | rest[rest.length - 1]!;
  return {
    bytes: new Uint8Array([...head, ...rest]),
    reply: head[1]!,
    atyp,
    host,
    port,
  };
}

/**
 * Connects to the proxy, negotiates (with `credentials`, if given) and
 * sends a CONNECT request, each message in its own write. Asserts the
 * method selection and auth status; the reply is returned as it came.
 *
 * @example
 * ```ts
 * import { openTunnel } from "./socks_raw.ts";
 * async function tunnel(proxyPort: number, echoPort: number) {
 *   const { raw, reply } = await openTunnel(
 *     { host: "127.0.0.1", port: proxyPort },
 *     { host: "127.0.0.1", port: echoPort },
 *   );
 *   console.log(reply.reply); // 0
 *   raw.destroy();
 * }
 * ```
 */
export async function openTunnel(
  proxy: Endpoint,
  destination: Endpoint,
  credentials?: Credentials,
): Promise<{ raw: RawSocket; reply: ReplyFrame }> {
  const raw = await RawSocket.connect(proxy.host, proxy.port);
  try {
    const method = credentials === undefined ? 0x00 : 0x02;
    await raw.write(greeting([method]));
    assert.deepEqual(await raw.read(2), new Uint8Array([0x05, method]));
    if (credentials !== undefined) {
      await raw.write(userPass(credentials));
      assert.deepEqual(await raw.read(2), new Uint8Array([0x01, 0x00]));
    }
    await raw.write(request(destination));
    return { raw, reply: await readReply(raw) };
  } catch (error) {
    raw.destroy();
    throw error;
  }
}

/**
 * IP text in one canonical form (IPv6 compressed the way Node writes it),
 * so `0000:…:0001` from one client and `::1` from another compare equal.
 *
 * @example
 * ```ts
 * import { canonicalHost } from "./socks_raw.ts";
 * console.log(canonicalHost("0000:0000:0000:0000:0000:0000:0000:0001")); // "::1"
 * ```
 */
export function canonicalHost(host: string): string {
  return net.isIP(host) === 6
    ? formatIPv6(new Uint8Array(ipv6Bytes(host)))
    : host;
}

function ipv6Bytes(text: string): number[] {
  // Expand "::" into the zero groups it stands for.
  const [head = "", tail] = text.split("::");
  const headGroups = head === "" ? [] : head.split(":");
  const tailGroups = tail === undefined || tail === "" ? [] : tail.split(":");
  const zeros = new Array<string>(8 - headGroups.length - tailGroups.length)
    .fill("0");
  const groups = tail === undefined ? headGroups : [
    ...headGroups,
    ...zeros,
    ...tailGroups,
  ];
  return groups.flatMap((group) => {
    const value = parseInt(group, 16);
    return [value >> 8, value & 0xff];
  });
}

function formatIPv6(bytes: Uint8Array): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) {
    groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  }
  // Node's canonical form for the addresses tests use (::1).
  return groups.join(":").replace(/(^|:)0(:0)+(:|$)/, "::");
}
