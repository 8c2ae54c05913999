/**
 * Wire vectors: raw SOCKS5 frames with what they decode to, and corrupted
 * frames with the exact error, offset and reply they must produce.
 *
 * @module
 */

import { utf8 } from "../../src/bytes.ts";
import type { SocksAddress } from "../../src/wire/address.ts";
import type { Greeting } from "../../src/wire/greeting.ts";
import type { MethodSelection } from "../../src/wire/method_selection.ts";
import type { ReplyMessage } from "../../src/wire/reply.ts";
import type { Request } from "../../src/wire/request.ts";
import type { UdpDatagram } from "../../src/wire/udp_datagram.ts";
import type { ProxyHeader } from "../../src/wire/proxy_header.ts";
import type {
  UserPassReply,
  UserPassRequest,
} from "../../src/wire/user_pass.ts";
import type { DoneVector, InvalidVector } from "./feed.ts";

/** Builds bytes from byte values, byte lists, UTF-8 text and byte arrays. */
export function b(
  ...parts: Array<number | readonly number[] | string | Uint8Array>
): Uint8Array {
  const out: number[] = [];
  for (const part of parts) {
    if (typeof part === "number") out.push(part);
    else if (typeof part === "string") out.push(...utf8(part));
    else out.push(...part);
  }
  return new Uint8Array(out);
}

/** `count` bytes of `value`. */
export function fill(count: number, value: number): number[] {
  return new Array<number>(count).fill(value);
}

/** Bytes 0, 1, 2, … `count - 1` (mod 256). */
export function sequence(count: number): number[] {
  return Array.from({ length: count }, (_, i) => i & 0xff);
}

const LOOPBACK_V4 = [127, 0, 0, 1];
const DOC_V6_1 = [0x20, 0x01, 0x0d, 0xb8, ...fill(11, 0), 0x01]; // 2001:db8::1
const DOC_V6_2 = [0x20, 0x01, 0x0d, 0xb8, ...fill(11, 0), 0x02]; // 2001:db8::2
const LONG_DOMAIN = "d".repeat(255);

/** `needed` before the address type of a request or reply arrives. */
const BEFORE_ATYP = [8, 7, 6, 5];
/** …and for a domain, before its length byte arrives. */
const BEFORE_DOMAIN_LENGTH = [...BEFORE_ATYP, 1];

// --- Greeting (RFC 1928 §3) -------------------------------------------------

/** Greetings that decode. Before NMETHODS arrives the decoder asks for 3. */
export const GREETING_VECTORS: DoneVector<Greeting>[] = [
  {
    name: "a no-auth offer",
    bytes: b(0x05, 0x01, 0x00),
    value: { methods: [0x00] },
    early: [3, 2],
    canonical: true,
  },
  {
    name: "a no-auth and username/password offer",
    bytes: b(0x05, 0x02, 0x00, 0x02),
    value: { methods: [0x00, 0x02] },
    early: [3, 2],
    canonical: true,
  },
  {
    name: "repeated and unassigned methods",
    bytes: b(0x05, 0x04, 0x02, 0x02, 0x80, 0xff),
    value: { methods: [0x02, 0x02, 0x80, 0xff] },
    early: [3, 2],
    canonical: true,
  },
  {
    name: "all 255 methods",
    bytes: b(0x05, 0xff, sequence(255)),
    value: { methods: sequence(255) },
    early: [3, 2],
    canonical: true,
  },
];

/** Greetings that are refused. */
export const GREETING_INVALID: InvalidVector[] = [
  {
    name: "version 0x04",
    bytes: b(0x04, 0x01, 0x00),
    error: {
      code: "bad_version",
      message: "Cannot decode greeting: version 0x04 is not 0x05",
      offset: 0,
      reply: null,
    },
  },
  {
    name: "an HTTP request",
    bytes: b("GET / HTTP/1.1\r\n"),
    error: {
      code: "bad_version",
      message: "Cannot decode greeting: version 0x47 is not 0x05",
      offset: 0,
      reply: null,
    },
  },
  {
    name: "NMETHODS 0",
    bytes: b(0x05, 0x00),
    error: {
      code: "no_methods",
      message: "Cannot decode greeting: it offers no methods",
      offset: 1,
      reply: null,
    },
  },
  {
    name: "NMETHODS 0 followed by method bytes",
    bytes: b(0x05, 0x00, 0x00, 0x02),
    error: {
      code: "no_methods",
      message: "Cannot decode greeting: it offers no methods",
      offset: 1,
      reply: null,
    },
  },
];

// --- Method selection (RFC 1928 §3) -----------------------------------------

/** Method selections that decode. */
export const METHOD_SELECTION_VECTORS: DoneVector<MethodSelection>[] = [
  [0x00, "no authentication"],
  [0x02, "username/password"],
  [0x80, "a private method"],
  [0xff, "no acceptable methods"],
].map(([method, what]) => ({
  name: `a choice of ${what}`,
  bytes: b(0x05, method as number),
  value: { method: method as number },
  early: [],
  canonical: true,
}));

/** Method selections that are refused. */
export const METHOD_SELECTION_INVALID: InvalidVector[] = [
  {
    name: "version 0x04",
    bytes: b(0x04, 0x00),
    error: {
      code: "bad_version",
      message: "Cannot decode method selection: version 0x04 is not 0x05",
      offset: 0,
      reply: null,
    },
  },
  {
    name: "the username/password version 0x01",
    bytes: b(0x01, 0x00),
    error: {
      code: "bad_version",
      message: "Cannot decode method selection: version 0x01 is not 0x05",
      offset: 0,
      reply: null,
    },
  },
];

// --- Username/password (RFC 1929 §2) ----------------------------------------

/**
 * `needed` for a username/password request whose username is `ulen` bytes:
 * until PLEN arrives the decoder assumes an empty password.
 */
export function userPassEarly(ulen: number): number[] {
  const early = [3, 2];
  for (let k = 2; k <= 2 + ulen; k++) early.push(3 + ulen - k);
  return early;
}

function credentials(
  name: string,
  username: string,
  password: string,
): DoneVector<UserPassRequest> {
  const user = utf8(username);
  const pass = utf8(password);
  return {
    name,
    bytes: b(0x01, user.length, user, pass.length, pass),
    value: { username, password },
    early: userPassEarly(user.length),
    canonical: true,
  };
}

/** Username/password requests that decode. */
export const USER_PASS_REQUEST_VECTORS: DoneVector<UserPassRequest>[] = [
  credentials("alice with s3cret", "alice", "s3cret"),
  credentials("a one-byte username and an empty password", "a", ""),
  credentials(
    "the longest, a 255-byte username and password",
    "u".repeat(255),
    "p".repeat(255),
  ),
  credentials("UTF-8 credentials", "jürgen", "pässwörd🔑"),
  credentials("credentials that start with U+FEFF", "\ufeffbom", "\ufeff"),
  {
    name: "an empty username and password",
    bytes: b(0x01, 0x00, 0x00),
    value: { username: "", password: "" },
    early: [],
    canonical: false, // the encoder refuses an empty username
  },
  {
    name: "invalid UTF-8 as U+FFFD",
    bytes: b(0x01, 0x02, 0xff, 0x61, 0x01, 0xc3),
    value: { username: "\ufffda", password: "\ufffd" },
    early: userPassEarly(2),
    canonical: false,
  },
];

/** Username/password requests that are refused. */
export const USER_PASS_REQUEST_INVALID: InvalidVector[] = [
  {
    name: "the SOCKS version 0x05",
    bytes: b(0x05, 0x01, 0x61, 0x01, 0x62),
    error: {
      code: "bad_version",
      message:
        "Cannot decode username/password request: version 0x05 is not 0x01",
      offset: 0,
      reply: null,
    },
  },
  {
    name: "version 0x00",
    bytes: b(0x00, 0x01, 0x61, 0x01, 0x62),
    error: {
      code: "bad_version",
      message:
        "Cannot decode username/password request: version 0x00 is not 0x01",
      offset: 0,
      reply: null,
    },
  },
];

/** Username/password replies that decode. */
export const USER_PASS_REPLY_VECTORS: DoneVector<UserPassReply>[] = [
  [0x00, "success"],
  [0x01, "failure"],
  [0xff, "failure 0xff"],
].map(([status, what]) => ({
  name: `a ${what} status`,
  bytes: b(0x01, status as number),
  value: { status: status as number },
  early: [],
  canonical: true,
}));

/** Username/password replies that are refused. */
export const USER_PASS_REPLY_INVALID: InvalidVector[] = [
  {
    name: "the SOCKS version 0x05",
    bytes: b(0x05, 0x00),
    error: {
      code: "bad_version",
      message:
        "Cannot decode username/password reply: version 0x05 is not 0x01",
      offset: 0,
      reply: null,
    },
  },
];

// --- Request (RFC 1928 §4) --------------------------------------------------

/** Requests that decode. */
export const REQUEST_VECTORS: DoneVector<Request>[] = [
  {
    name: "CONNECT to IPv4 127.0.0.1:80",
    bytes: b(0x05, 0x01, 0x00, 0x01, LOOPBACK_V4, 0x00, 0x50),
    value: {
      command: 0x01,
      destination: { type: 0x01, host: "127.0.0.1", port: 80 },
    },
    early: BEFORE_ATYP,
    canonical: true,
  },
  {
    name: "CONNECT to domain example.com:443",
    bytes: b(0x05, 0x01, 0x00, 0x03, 11, "example.com", 0x01, 0xbb),
    value: {
      command: 0x01,
      destination: { type: 0x03, host: "example.com", port: 443 },
    },
    early: BEFORE_DOMAIN_LENGTH,
    canonical: true,
  },
  {
    name: "CONNECT to IPv6 [2001:db8::1]:8080",
    bytes: b(0x05, 0x01, 0x00, 0x04, DOC_V6_1, 0x1f, 0x90),
    value: {
      command: 0x01,
      destination: { type: 0x04, host: "2001:db8::1", port: 8080 },
    },
    early: BEFORE_ATYP,
    canonical: true,
  },
  {
    name: "BIND to IPv4 0.0.0.0:0",
    bytes: b(0x05, 0x02, 0x00, 0x01, fill(6, 0)),
    value: {
      command: 0x02,
      destination: { type: 0x01, host: "0.0.0.0", port: 0 },
    },
    early: BEFORE_ATYP,
    canonical: true,
  },
  {
    name: "UDP ASSOCIATE from IPv6 [::]:0",
    bytes: b(0x05, 0x03, 0x00, 0x04, fill(18, 0)),
    value: {
      command: 0x03,
      destination: { type: 0x04, host: "::", port: 0 },
    },
    early: BEFORE_ATYP,
    canonical: true,
  },
  {
    name: "the shortest request, to a one-byte domain",
    bytes: b(0x05, 0x01, 0x00, 0x03, 0x01, "a", 0x00, 0x50),
    value: {
      command: 0x01,
      destination: { type: 0x03, host: "a", port: 80 },
    },
    early: BEFORE_DOMAIN_LENGTH,
    canonical: true,
  },
  {
    name: "the longest request, to a 255-byte domain on port 65535",
    bytes: b(0x05, 0x01, 0x00, 0x03, 0xff, LONG_DOMAIN, 0xff, 0xff),
    value: {
      command: 0x01,
      destination: { type: 0x03, host: LONG_DOMAIN, port: 65535 },
    },
    early: BEFORE_DOMAIN_LENGTH,
    canonical: true,
  },
  {
    name: "CONNECT to an IPv4-mapped IPv6 address, kept as ATYP 4",
    bytes: b(
      0x05,
      0x01,
      0x00,
      0x04,
      fill(10, 0),
      0xff,
      0xff,
      192,
      0,
      2,
      1,
      0x00,
      0x50,
    ),
    value: {
      command: 0x01,
      destination: { type: 0x04, host: "::ffff:192.0.2.1", port: 80 },
    },
    early: BEFORE_ATYP,
    canonical: true,
  },
  {
    name: "CONNECT to IPv6 with two equal zero runs, the first compressed",
    bytes: b(
      0x05,
      0x01,
      0x00,
      0x04,
      [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1],
      0x00,
      0x50,
    ),
    value: {
      command: 0x01,
      destination: { type: 0x04, host: "2001:db8::1:0:0:1", port: 80 },
    },
    early: BEFORE_ATYP,
    canonical: true,
  },
  {
    name: "CONNECT to a UTF-8 domain",
    bytes: b(0x05, 0x01, 0x00, 0x03, 15, "bücher.example", 0x00, 0x50),
    value: {
      command: 0x01,
      destination: { type: 0x03, host: "bücher.example", port: 80 },
    },
    early: BEFORE_DOMAIN_LENGTH,
    canonical: true,
  },
  {
    name: "a non-zero RSV byte, which is ignored",
    bytes: b(0x05, 0x01, 0xff, 0x01, LOOPBACK_V4, 0x00, 0x50),
    value: {
      command: 0x01,
      destination: { type: 0x01, host: "127.0.0.1", port: 80 },
    },
    early: BEFORE_ATYP,
    canonical: false,
  },
  {
    name: "a domain of invalid UTF-8 as U+FFFD",
    bytes: b(0x05, 0x01, 0x00, 0x03, 0x02, 0xff, 0xfe, 0x00, 0x50),
    value: {
      command: 0x01,
      destination: { type: 0x03, host: "\ufffd\ufffd", port: 80 },
    },
    early: BEFORE_DOMAIN_LENGTH,
    canonical: false,
  },
];

function unsupportedCommand(command: number): InvalidVector {
  const name = `0x${command.toString(16).padStart(2, "0")}`;
  return {
    name: `command ${name}`,
    bytes: b(0x05, command, 0x00, 0x01, LOOPBACK_V4, 0x00, 0x50),
    error: {
      code: "unsupported_command",
      message: `Cannot decode request: command ${name} is not supported`,
      offset: 1,
      reply: 0x07,
    },
  };
}

function unsupportedAddressType(
  frame: "request" | "reply",
  first: number,
  type: number,
): InvalidVector {
  const name = `0x${type.toString(16).padStart(2, "0")}`;
  return {
    name: `address type ${name}`,
    bytes: b(0x05, first, 0x00, type, LOOPBACK_V4, 0x00, 0x50),
    error: {
      code: "unsupported_address_type",
      message: `Cannot decode ${frame}: address type ${name} is not supported`,
      offset: 3,
      reply: 0x08,
    },
  };
}

/** Requests that are refused. */
export const REQUEST_INVALID: InvalidVector[] = [
  {
    name: "version 0x04 (a SOCKS4 CONNECT)",
    bytes: b(0x04, 0x01, 0x00, 0x50, LOOPBACK_V4, 0x00),
    error: {
      code: "bad_version",
      message: "Cannot decode request: version 0x04 is not 0x05",
      offset: 0,
      reply: 0x01,
    },
  },
  ...[0x00, 0x04, 0x80, 0xff].map(unsupportedCommand),
  ...[0x00, 0x02, 0x05, 0xff].map((type) =>
    unsupportedAddressType("request", 0x01, type)
  ),
  {
    name: "a zero-length domain",
    bytes: b(0x05, 0x01, 0x00, 0x03, 0x00, 0x00, 0x50),
    error: {
      code: "empty_domain",
      message: "Cannot decode request: domain name is empty",
      offset: 4,
      reply: 0x01,
    },
  },
];

// --- Reply (RFC 1928 §6) ----------------------------------------------------

/** Replies that decode. */
export const REPLY_VECTORS: DoneVector<ReplyMessage>[] = [
  {
    name: "success bound to IPv4 127.0.0.1:40000",
    bytes: b(0x05, 0x00, 0x00, 0x01, LOOPBACK_V4, 0x9c, 0x40),
    value: {
      reply: 0x00,
      bound: { type: 0x01, host: "127.0.0.1", port: 40000 },
    },
    early: BEFORE_ATYP,
    canonical: true,
  },
  {
    name: "success bound to IPv6 [2001:db8::2]:1080",
    bytes: b(0x05, 0x00, 0x00, 0x04, DOC_V6_2, 0x04, 0x38),
    value: {
      reply: 0x00,
      bound: { type: 0x04, host: "2001:db8::2", port: 1080 },
    },
    early: BEFORE_ATYP,
    canonical: true,
  },
  {
    name: "success bound to domain proxy.example:1080",
    bytes: b(0x05, 0x00, 0x00, 0x03, 13, "proxy.example", 0x04, 0x38),
    value: {
      reply: 0x00,
      bound: { type: 0x03, host: "proxy.example", port: 1080 },
    },
    early: BEFORE_DOMAIN_LENGTH,
    canonical: true,
  },
  ...[0, 1, 2, 3, 4, 5, 6, 7, 8].map((code): DoneVector<ReplyMessage> => ({
    name: `reply code 0x0${code} with no bound address`,
    bytes: b(0x05, code, 0x00, 0x01, fill(6, 0)),
    value: {
      reply: code as ReplyMessage["reply"],
      bound: { type: 0x01, host: "0.0.0.0", port: 0 },
    },
    early: BEFORE_ATYP,
    canonical: true,
  })),
  {
    name: "a non-zero RSV byte, which is ignored",
    bytes: b(0x05, 0x00, 0x01, 0x01, LOOPBACK_V4, 0x00, 0x50),
    value: {
      reply: 0x00,
      bound: { type: 0x01, host: "127.0.0.1", port: 80 },
    },
    early: BEFORE_ATYP,
    canonical: false,
  },
];

function unassignedReply(code: number): InvalidVector {
  const name = `0x${code.toString(16).padStart(2, "0")}`;
  return {
    name: `reply code ${name}`,
    bytes: b(0x05, code, 0x00, 0x01, fill(6, 0)),
    error: {
      code: "unassigned_reply",
      message: `Cannot decode reply: reply code ${name} is unassigned`,
      offset: 1,
      reply: null,
    },
  };
}

/** Replies that are refused. */
export const REPLY_INVALID: InvalidVector[] = [
  {
    name: "version 0x04",
    bytes: b(0x04, 0x5a, 0x00, 0x50, LOOPBACK_V4),
    error: {
      code: "bad_version",
      message: "Cannot decode reply: version 0x04 is not 0x05",
      offset: 0,
      reply: null,
    },
  },
  ...[0x09, 0x80, 0xff].map(unassignedReply),
  ...[0x00, 0x02, 0xff].map((type) =>
    unsupportedAddressType("reply", 0x00, type)
  ),
  {
    name: "a zero-length domain",
    bytes: b(0x05, 0x00, 0x00, 0x03, 0x00, 0x00, 0x50),
    error: {
      code: "empty_domain",
      message: "Cannot decode reply: domain name is empty",
      offset: 4,
      reply: 0x01,
    },
  },
];

// --- UDP datagram (RFC 1928 §7) ---------------------------------------------

/**
 * A datagram that decodes. Its prefixes shorter than the header are
 * `partial`; longer ones are the same datagram with less data.
 */
export interface UdpVector extends DoneVector<UdpDatagram> {
  /** RSV, FRAG, ATYP, DST.ADDR and DST.PORT: where the payload starts. */
  headerLength: number;
}

/** `needed` before the address type, and for a domain its length, arrive. */
const UDP_BEFORE_ATYP = [8, 7, 6, 1];
const UDP_BEFORE_DOMAIN_LENGTH = [...UDP_BEFORE_ATYP, 1];

/** Datagrams that decode. */
export const UDP_VECTORS: UdpVector[] = [
  {
    name: "a DNS query to IPv4 8.8.8.8:53",
    bytes: b(0x00, 0x00, 0x00, 0x01, 8, 8, 8, 8, 0x00, 0x35, 0x12, 0x34, 1, 0),
    value: {
      frag: 0,
      destination: { type: 0x01, host: "8.8.8.8", port: 53 },
      data: b(0x12, 0x34, 1, 0),
    },
    headerLength: 10,
    early: UDP_BEFORE_ATYP,
    canonical: true,
  },
  {
    name: "a header-only datagram to a one-byte domain",
    bytes: b(0x00, 0x00, 0x00, 0x03, 0x01, "a", 0x00, 0x50),
    value: {
      frag: 0,
      destination: { type: 0x03, host: "a", port: 80 },
      data: b(),
    },
    headerLength: 8,
    early: UDP_BEFORE_DOMAIN_LENGTH,
    canonical: true,
  },
  {
    name: "300 bytes to IPv6 [2001:db8::2]:443",
    bytes: b(0x00, 0x00, 0x00, 0x04, DOC_V6_2, 0x01, 0xbb, sequence(300)),
    value: {
      frag: 0,
      destination: { type: 0x04, host: "2001:db8::2", port: 443 },
      data: b(sequence(300)),
    },
    headerLength: 22,
    early: UDP_BEFORE_ATYP,
    canonical: true,
  },
  {
    name: "fragment 1 to domain example.com:53",
    bytes: b(0x00, 0x00, 0x01, 0x03, 11, "example.com", 0x00, 0x35, "q"),
    value: {
      frag: 1,
      destination: { type: 0x03, host: "example.com", port: 53 },
      data: b("q"),
    },
    headerLength: 18,
    early: UDP_BEFORE_DOMAIN_LENGTH,
    canonical: true,
  },
  {
    name: "a non-zero RSV, which is ignored",
    bytes: b(0xff, 0xff, 0x00, 0x01, LOOPBACK_V4, 0x00, 0x35, 0xaa),
    value: {
      frag: 0,
      destination: { type: 0x01, host: "127.0.0.1", port: 53 },
      data: b(0xaa),
    },
    headerLength: 10,
    early: UDP_BEFORE_ATYP,
    canonical: false,
  },
];

/** Datagrams that are refused. */
export const UDP_INVALID: InvalidVector[] = [
  {
    name: "address type 0x05",
    bytes: b(0x00, 0x00, 0x00, 0x05, LOOPBACK_V4, 0x00, 0x35, 0xaa),
    error: {
      code: "unsupported_address_type",
      message: "Cannot decode UDP datagram: address type 0x05 is not supported",
      offset: 3,
      reply: 0x08,
    },
  },
  {
    name: "a zero-length domain",
    bytes: b(0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x35, 0xaa),
    error: {
      code: "empty_domain",
      message: "Cannot decode UDP datagram: domain name is empty",
      offset: 4,
      reply: 0x01,
    },
  },
];

// --- Address (RFC 1928 §5) --------------------------------------------------

/** Addresses that decode at offset 0: `needed` is 1 until ATYP arrives. */
export const ADDRESS_VECTORS: DoneVector<SocksAddress>[] = [
  {
    name: "IPv4 10.0.0.1:80",
    bytes: b(0x01, 10, 0, 0, 1, 0x00, 0x50),
    value: { type: 0x01, host: "10.0.0.1", port: 80 },
    early: [1],
    canonical: true,
  },
  {
    name: "IPv4 255.255.255.255:65535",
    bytes: b(0x01, fill(6, 0xff)),
    value: { type: 0x01, host: "255.255.255.255", port: 65535 },
    early: [1],
    canonical: true,
  },
  {
    name: "domain example.com:443",
    bytes: b(0x03, 11, "example.com", 0x01, 0xbb),
    value: { type: 0x03, host: "example.com", port: 443 },
    early: [1, 1],
    canonical: true,
  },
  {
    name: "a 255-byte domain",
    bytes: b(0x03, 0xff, LONG_DOMAIN, 0x00, 0x01),
    value: { type: 0x03, host: LONG_DOMAIN, port: 1 },
    early: [1, 1],
    canonical: true,
  },
  {
    name: "IPv6 [::1]:1080",
    bytes: b(0x04, fill(15, 0), 0x01, 0x04, 0x38),
    value: { type: 0x04, host: "::1", port: 1080 },
    early: [1],
    canonical: true,
  },
  {
    name: "IPv6 with no zero group [1:2:3:4:5:6:7:8]:0",
    bytes: b(0x04, [0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 8], 0, 0),
    value: { type: 0x04, host: "1:2:3:4:5:6:7:8", port: 0 },
    early: [1],
    canonical: true,
  },
];

/** Addresses that are refused at offset 0. */
export const ADDRESS_INVALID: InvalidVector[] = [
  ...[0x00, 0x02, 0x05, 0xff].map((type): InvalidVector => {
    const name = `0x${type.toString(16).padStart(2, "0")}`;
    return {
      name: `address type ${name}`,
      bytes: b(type, LOOPBACK_V4, 0x00, 0x50),
      error: {
        code: "unsupported_address_type",
        message: `Cannot decode address: address type ${name} is not supported`,
        offset: 0,
        reply: 0x08,
      },
    };
  }),
  {
    name: "a zero-length domain",
    bytes: b(0x03, 0x00, 0x00, 0x50),
    error: {
      code: "empty_domain",
      message: "Cannot decode address: domain name is empty",
      offset: 1,
      reply: 0x01,
    },
  },
];

// --- PROXY protocol headers -------------------------------------------------

const SIG = [
  0x0d,
  0x0a,
  0x0d,
  0x0a,
  0x00,
  0x0d,
  0x0a,
  0x51,
  0x55,
  0x49,
  0x54,
  0x0a,
];

// Both versions answer the shortest header (15 bytes) until they know
// more; v2 then the 16-byte fixed part, v1 only its CRLF.
function v1Early(length: number): number[] {
  return Array.from({ length }, (_, k) => Math.max(1, 15 - k));
}
const V2_EARLY = Array.from({ length: 16 }, (_, k) => k === 0 ? 15 : 16 - k);

/** PROXY headers of both versions, as balancers send them. */
export const PROXY_VECTORS: DoneVector<ProxyHeader>[] = [
  {
    name: "a v1 TCP4 line",
    bytes: b("PROXY TCP4 127.0.0.2 127.0.0.1 56324 1080\r\n"),
    value: {
      version: 1,
      command: "proxy",
      source: { host: "127.0.0.2", port: 56324 },
      destination: { host: "127.0.0.1", port: 1080 },
      tlvs: [],
    },
    early: v1Early(44),
    canonical: true,
  },
  {
    name: "a v1 TCP6 line",
    bytes: b("PROXY TCP6 2001:db8::7 ::1 0 65535\r\n"),
    value: {
      version: 1,
      command: "proxy",
      source: { host: "2001:db8::7", port: 0 },
      destination: { host: "::1", port: 65535 },
      tlvs: [],
    },
    early: v1Early(36),
    canonical: true,
  },
  {
    name: "a v1 UNKNOWN line",
    bytes: b("PROXY UNKNOWN\r\n"),
    value: {
      version: 1,
      command: "proxy",
      source: null,
      destination: null,
      tlvs: [],
    },
    early: v1Early(15),
    canonical: true,
  },
  {
    name: "a v1 UNKNOWN line with addresses to ignore",
    bytes: b("PROXY UNKNOWN ffff::1 nonsense 1 2\r\n"),
    value: {
      version: 1,
      command: "proxy",
      source: null,
      destination: null,
      tlvs: [],
    },
    early: v1Early(36),
    canonical: false,
  },
  {
    name: "a v2 TCP over IPv4 header",
    bytes: b(SIG, 0x21, 0x11, 0, 12, [127, 0, 0, 2], [127, 0, 0, 1], [
      0xdc,
      0x04,
    ], [0x04, 0x38]),
    value: {
      version: 2,
      command: "proxy",
      source: { host: "127.0.0.2", port: 56324 },
      destination: { host: "127.0.0.1", port: 1080 },
      tlvs: [],
    },
    early: V2_EARLY,
    canonical: true,
  },
  {
    name: "a v2 TCP over IPv6 header with TLVs",
    bytes: b(
      SIG,
      0x21,
      0x21,
      0,
      36 + 8 + 3,
      [0x20, 0x01, 0x0d, 0xb8, ...fill(11, 0), 7],
      [...fill(15, 0), 1],
      [0, 80],
      [0x04, 0x38],
      [0x05, 0, 5],
      "id-42",
      [0x04, 0, 0],
    ),
    value: {
      version: 2,
      command: "proxy",
      source: { host: "2001:db8::7", port: 80 },
      destination: { host: "::1", port: 1080 },
      tlvs: [{ type: 0x05, value: b("id-42") }, {
        type: 0x04,
        value: b(),
      }],
    },
    early: V2_EARLY,
    canonical: true,
  },
  {
    name: "a v2 LOCAL header (a health check)",
    bytes: b(SIG, 0x20, 0x00, 0, 0),
    value: {
      version: 2,
      command: "local",
      source: null,
      destination: null,
      tlvs: [],
    },
    early: V2_EARLY,
    canonical: true,
  },
  {
    name: "a v2 LOCAL header with an address block to skip",
    bytes: b(SIG, 0x20, 0x11, 0, 12, fill(12, 9)),
    value: {
      version: 2,
      command: "local",
      source: null,
      destination: null,
      tlvs: [],
    },
    early: V2_EARLY,
    canonical: false,
  },
  {
    name: "a v2 UNSPEC header",
    bytes: b(SIG, 0x21, 0x00, 0, 0),
    value: {
      version: 2,
      command: "proxy",
      source: null,
      destination: null,
      tlvs: [],
    },
    early: V2_EARLY,
    canonical: true,
  },
  {
    name: "a v2 UNIX stream header",
    bytes: b(SIG, 0x21, 0x31, 0, 216, fill(216, 0x2f)),
    value: {
      version: 2,
      command: "proxy",
      source: null,
      destination: null,
      tlvs: [],
    },
    early: V2_EARLY,
    canonical: false,
  },
];

function proxyError(
  code: "not_proxy_header" | "bad_proxy_header" | "proxy_header_too_long",
  message: string,
  offset: number,
): InvalidVector["error"] {
  return {
    code,
    message: `Cannot decode PROXY header: ${message}`,
    offset,
    reply: null,
  };
}

/** Headers that must be refused, at the byte that makes them wrong. */
export const PROXY_INVALID: InvalidVector[] = [
  {
    name: "a SOCKS greeting",
    bytes: b(0x05, 0x01, 0x00),
    error: proxyError(
      "not_proxy_header",
      "byte 0x05 at offset 0 is not the PROXY signature",
      0,
    ),
  },
  {
    name: "an HTTP request",
    bytes: b("PUT / HTTP/1.1\r\n"),
    error: proxyError(
      "not_proxy_header",
      "byte 0x55 at offset 1 is not the PROXY signature",
      1,
    ),
  },
  {
    name: "a v1 line with an unknown protocol",
    bytes: b("PROXY UDP4 1.2.3.4 1.2.3.4 1 2\r\n"),
    error: proxyError(
      "bad_proxy_header",
      "byte 0x44 is not in TCP4, TCP6 or UNKNOWN at offset 7",
      7,
    ),
  },
  {
    name: "a v1 line with an IPv6 address under TCP4",
    bytes: b("PROXY TCP4 ::1 ::1 1 2\r\n"),
    error: proxyError("bad_proxy_header", "::1 is not an IPv4 address", 14),
  },
  {
    name: "a v1 line with a leading zero in a port",
    bytes: b("PROXY TCP4 1.2.3.4 1.2.3.4 080 2\r\n"),
    error: proxyError(
      "bad_proxy_header",
      "a port with a leading 0 at offset 28",
      28,
    ),
  },
  {
    name: "a v1 line with a port over 65535",
    bytes: b("PROXY TCP4 1.2.3.4 1.2.3.4 1 65536\r\n"),
    error: proxyError("bad_proxy_header", "port 65536 is over 65535", 34),
  },
  {
    name: "a v1 line ending in a bare LF",
    bytes: b("PROXY TCP4 1.2.3.4 1.2.3.4 1 2\n"),
    error: proxyError(
      "bad_proxy_header",
      "byte 0x0a is not a digit at offset 30",
      30,
    ),
  },
  {
    name: "a v1 line with CR and no LF",
    bytes: b("PROXY UNKNOWN\rX"),
    error: proxyError("bad_proxy_header", "CR at offset 13 is not CRLF", 14),
  },
  {
    name: "a v1 UNKNOWN line over 107 bytes",
    bytes: b("PROXY UNKNOWN ", fill(100, 0x61)),
    error: proxyError(
      "proxy_header_too_long",
      "no CRLF in the first 107 bytes of a version 1 line",
      106,
    ),
  },
  {
    name: "a v2 header of version 3",
    bytes: b(SIG, 0x31, 0x11, 0, 12, fill(12, 0)),
    error: proxyError("bad_proxy_header", "version 3 is not 2", 12),
  },
  {
    name: "a v2 header with command 2",
    bytes: b(SIG, 0x22, 0x11, 0, 12, fill(12, 0)),
    error: proxyError(
      "bad_proxy_header",
      "command 0x02 is not 0x00 or 0x01",
      12,
    ),
  },
  {
    name: "a v2 header with family 4",
    bytes: b(SIG, 0x21, 0x41, 0, 12, fill(12, 0)),
    error: proxyError(
      "bad_proxy_header",
      "family and transport 0x41 are not defined",
      13,
    ),
  },
  {
    name: "a v2 IPv4 header with a short address block",
    bytes: b(SIG, 0x21, 0x11, 0, 11, fill(11, 0)),
    error: proxyError(
      "bad_proxy_header",
      "address length 11 is under 12 for family 1",
      15,
    ),
  },
  {
    name: "a v2 header longer than the bound",
    bytes: b(SIG, 0x21, 0x11, 0x08, 0x01),
    error: proxyError(
      "proxy_header_too_long",
      "a version 2 header of 2065 bytes is over 2064",
      15,
    ),
  },
  {
    name: "a v2 header whose TLV overruns it",
    bytes: b(SIG, 0x21, 0x11, 0, 17, fill(12, 1), [0x05, 0, 3], [1, 2]),
    error: proxyError(
      "bad_proxy_header",
      "TLV 0x05 of 3 bytes at offset 28 overruns the header",
      30,
    ),
  },
  {
    name: "a v2 header ending in half a TLV",
    bytes: b(SIG, 0x21, 0x11, 0, 14, fill(12, 1), [0x05, 0]),
    error: proxyError(
      "bad_proxy_header",
      "2 bytes at offset 28 are not a TLV",
      28,
    ),
  },
];
