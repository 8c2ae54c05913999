/**
 * Proxy URLs as curl and most SOCKS clients write them:
 * `socks5://user:pass@host:port` and `socks5h://…`.
 *
 * @module
 */

import { utf8 } from "../bytes.ts";
import { parseIPv6, toSocksAddress } from "../wire/address.ts";
import type { Credentials } from "./handshake.ts";

/**
 * Where a proxy is and how to use it.
 *
 * @example
 * ```ts
 * import type { ProxyOptions } from "./url.ts";
 * const proxy: ProxyOptions = {
 *   host: "127.0.0.1",
 *   port: 1080,
 *   credentials: { username: "alice", password: "s3cret" },
 *   resolve: "proxy",
 * };
 * ```
 */
export interface ProxyOptions {
  /** IPv4 or IPv6 text (no brackets), or a name. */
  host: string;
  /** 1–65535. */
  port: number;
  /** Username and password for RFC 1929 login, when the proxy wants one. */
  credentials?: Credentials;
  /**
   * Who resolves destination names: `"proxy"` (`socks5h`, the default)
   * sends them in the request; `"local"` (`socks5`) resolves them here and
   * sends the address.
   */
  resolve?: "proxy" | "local";
}

/** The port a SOCKS proxy listens on unless told otherwise (RFC 1928 §3). */
const DEFAULT_PORT = 1080;

const SCHEMES: Readonly<Record<string, "proxy" | "local">> = {
  socks5: "local",
  socks5h: "proxy",
};

/**
 * Parses a proxy URL. `socks5h` lets the proxy resolve destination names;
 * plain `socks5` resolves them locally first. Credentials are
 * percent-decoded (`%40` for `@`, `%3A` for `:`); IPv6 goes in brackets;
 * the port defaults to 1080. Error messages never quote the password.
 *
 * @throws {TypeError} When the text is not such a URL; the message names
 * the problem.
 *
 * @example
 * ```ts
 * import { parseProxyUrl } from "./url.ts";
 * console.log(parseProxyUrl("socks5h://alice:p%40ss@[::1]:1081"));
 * // { host: "::1", port: 1081, resolve: "proxy",
 * //   credentials: { username: "alice", password: "p@ss" } }
 * console.log(parseProxyUrl("socks5://proxy.example").port); // 1080
 * ```
 */
export function parseProxyUrl(text: string): ProxyOptions {
  const match = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/(.*)$/s.exec(text);
  if (match === null) {
    throw problem("it is not SCHEME://[USER:PASS@]HOST[:PORT]");
  }
  const [, rawScheme = "", remainder = ""] = match;
  const resolve = SCHEMES[rawScheme.toLowerCase()];
  if (resolve === undefined) {
    throw problem(`scheme "${rawScheme}" is not socks5 or socks5h`);
  }
  // Hosts never hold "@", so the last one ends the user info, even when a
  // password holds an unencoded "/", "#" or "@"; and no message below
  // quotes text from before it.
  const at = remainder.lastIndexOf("@");
  const address = remainder.slice(at + 1);
  const end = address.search(/[/?#]/);
  const rest = end === -1 ? "" : address.slice(end);
  if (rest !== "" && rest !== "/") {
    throw problem(`"${rest}" after the address is not allowed`);
  }
  const { host, port } = parseAuthorityHost(
    end === -1 ? address : address.slice(0, end),
  );
  const proxy: ProxyOptions = { host, port, resolve };
  if (at !== -1) {
    proxy.credentials = parseUserInfo(remainder.slice(0, at));
  }
  return proxy;
}

function parseAuthorityHost(text: string): { host: string; port: number } {
  let host: string;
  let portText: string | undefined;
  if (text.startsWith("[")) {
    const close = text.indexOf("]");
    if (close === -1) throw problem("IPv6 address has no closing bracket");
    host = text.slice(1, close);
    if (parseIPv6(host) === null) {
      throw problem(`"${host}" in brackets is not an IPv6 address`);
    }
    const after = text.slice(close + 1);
    if (after !== "" && !after.startsWith(":")) {
      throw problem(`"${after}" after the IPv6 address is not a port`);
    }
    portText = after === "" ? undefined : after.slice(1);
  } else {
    const colon = text.indexOf(":");
    if (colon !== text.lastIndexOf(":")) {
      throw problem("an IPv6 address must be in brackets");
    }
    host = colon === -1 ? text : text.slice(0, colon);
    portText = colon === -1 ? undefined : text.slice(colon + 1);
  }
  if (host === "") throw problem("host is empty");
  if (/[\s%<>\\^`{|}"]/.test(host)) {
    throw problem(`host "${host}" has a character hosts cannot have`);
  }
  return { host: toSocksAddress(host, 0).host, port: parsePort(portText) };
}

function parsePort(text: string | undefined): number {
  if (text === undefined) return DEFAULT_PORT;
  if (text === "") throw problem("port is empty");
  if (!/^[0-9]{1,5}$/.test(text)) {
    throw problem(`port "${text}" is not a number`);
  }
  const port = Number(text);
  if (port < 1 || port > 65535) {
    throw problem(`port ${text} is not in 1-65535`);
  }
  return port;
}

function parseUserInfo(text: string): Credentials {
  const colon = text.indexOf(":");
  const username = decode(
    colon === -1 ? text : text.slice(0, colon),
    "username",
  );
  const password = colon === -1
    ? ""
    : decode(text.slice(colon + 1), "password");
  const usernameLength = utf8(username).length;
  if (usernameLength === 0) throw problem("username is empty");
  // RFC 1929 §2: ULEN and PLEN are one byte each.
  if (usernameLength > 255) {
    throw problem(`username is ${usernameLength} bytes, not 1-255`);
  }
  const passwordLength = utf8(password).length;
  if (passwordLength > 255) {
    throw problem(`password is ${passwordLength} bytes, not 0-255`);
  }
  return { username, password };
}

function decode(text: string, what: "username" | "password"): string {
  try {
    return decodeURIComponent(text);
  } catch {
    // The text itself may be the secret: name the field, not its value.
    throw problem(`${what} has a malformed percent escape`);
  }
}

function problem(details: string): TypeError {
  return new TypeError(`Cannot parse proxy URL: ${details}`);
}
