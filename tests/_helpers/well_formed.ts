/**
 * Checks that a decoder's answer to arbitrary bytes keeps the decoder
 * contract: exactly one of done / partial / invalid, each well formed and
 * consistent with the input. Shared by the fuzz and property tests; plain
 * checks instead of `assert` keep 100,000 inputs per decoder fast.
 *
 * @module
 */

import {
  decodeAddress,
  formatIPv4,
  formatIPv6,
  type SocksAddress,
} from "../../src/wire/address.ts";
import { decodeGreeting, type Greeting } from "../../src/wire/greeting.ts";
import {
  decodeMethodSelection,
  type MethodSelection,
} from "../../src/wire/method_selection.ts";
import { decodeReply, type ReplyMessage } from "../../src/wire/reply.ts";
import { decodeRequest, type Request } from "../../src/wire/request.ts";
import type { Decoded } from "../../src/wire/result.ts";
import {
  decodeProxyHeader,
  type ProxyHeader,
} from "../../src/wire/proxy_header.ts";
import {
  decodeUdpDatagram,
  type UdpDatagram,
} from "../../src/wire/udp_datagram.ts";
import {
  decodeUserPassReply,
  decodeUserPassRequest,
  type UserPassReply,
  type UserPassRequest,
} from "../../src/wire/user_pass.ts";
import type { Decoder } from "./feed.ts";

/** Throws naming `what` unless `condition` holds. */
export function check(condition: boolean, what: string): asserts condition {
  if (!condition) throw new Error(`Broken decoder contract: ${what}`);
}

const ERROR_CODES: ReadonlySet<string> = new Set([
  "bad_version",
  "no_methods",
  "unsupported_command",
  "unsupported_address_type",
  "empty_domain",
  "unassigned_reply",
  "not_proxy_header",
  "bad_proxy_header",
  "proxy_header_too_long",
]);

/** A decoder under fuzz: how to call it and what a `done` value must be. */
export interface Subject<T> {
  /** The function's name, as in test names. */
  name: string;
  /** Decodes from offset 0 (decodeAddress is wrapped). */
  decode: Decoder<T>;
  /** Where the frame starts; error offsets are not below it. */
  start: number;
  /** A UDP datagram is done with any payload, so its end is the input's. */
  takesAll: boolean;
  /**
   * Checks a `done` value against the input and returns where the fixed
   * part of the frame ends (for UDP, the header; else `bytesRead`).
   */
  checkValue(value: T, input: Uint8Array, bytesRead: number): number;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

/** Checks an address decoded at `offset`; returns the offset after it. */
export function checkAddress(
  address: SocksAddress,
  input: Uint8Array,
  offset: number,
): number {
  const { type, host, port } = address;
  check(type === input[offset], "address type is the ATYP byte");
  let end: number;
  if (type === 0x01) {
    end = offset + 7;
    check(
      host === formatIPv4(input.subarray(offset + 1, offset + 5)),
      "IPv4 host is the dotted ADDR",
    );
  } else if (type === 0x04) {
    end = offset + 19;
    check(
      host === formatIPv6(input.subarray(offset + 1, offset + 17)),
      "IPv6 host is the canonical ADDR",
    );
  } else {
    check(type === 0x03, `address type ${type} is 1, 3 or 4`);
    const length = input[offset + 1]!;
    check(length >= 1, "a domain is not empty");
    end = offset + 2 + length + 2;
    check(typeof host === "string" && host.length >= 1, "domain is text");
  }
  check(end <= input.length, "address ends within the input");
  check(
    Number.isInteger(port) && port === (input[end - 2]! << 8 | input[end - 1]!),
    "port is DST.PORT",
  );
  return end;
}

/** The decoders under fuzz, each with its value check. */
export const SUBJECTS: {
  greeting: Subject<Greeting>;
  methodSelection: Subject<MethodSelection>;
  userPassRequest: Subject<UserPassRequest>;
  userPassReply: Subject<UserPassReply>;
  request: Subject<Request>;
  reply: Subject<ReplyMessage>;
  udpDatagram: Subject<UdpDatagram>;
  address: Subject<SocksAddress>;
  addressAt3: Subject<SocksAddress>;
  proxyHeader: Subject<ProxyHeader>;
} = {
  greeting: {
    name: "decodeGreeting()",
    decode: decodeGreeting,
    start: 0,
    takesAll: false,
    checkValue({ methods }, input, bytesRead) {
      check(Array.isArray(methods), "methods is an array");
      check(methods.length >= 1 && methods.length <= 255, "1-255 methods");
      check(methods.length === input[1], "methods has NMETHODS entries");
      check(bytesRead === 2 + methods.length, "bytesRead is 2 + NMETHODS");
      check(
        methods.every((method, i) => method === input[2 + i]),
        "methods are the METHODS bytes",
      );
      return bytesRead;
    },
  },
  methodSelection: {
    name: "decodeMethodSelection()",
    decode: decodeMethodSelection,
    start: 0,
    takesAll: false,
    checkValue({ method }, input, bytesRead) {
      check(bytesRead === 2, "bytesRead is 2");
      check(method === input[1], "method is the METHOD byte");
      return bytesRead;
    },
  },
  userPassRequest: {
    name: "decodeUserPassRequest()",
    decode: decodeUserPassRequest,
    start: 0,
    takesAll: false,
    checkValue({ username, password }, input, bytesRead) {
      check(typeof username === "string", "username is text");
      check(typeof password === "string", "password is text");
      const ulen = input[1]!;
      check(
        bytesRead === 3 + ulen + input[2 + ulen]!,
        "bytesRead from lengths",
      );
      check(username.length <= ulen, "username fits ULEN");
      return bytesRead;
    },
  },
  userPassReply: {
    name: "decodeUserPassReply()",
    decode: decodeUserPassReply,
    start: 0,
    takesAll: false,
    checkValue({ status }, input, bytesRead) {
      check(bytesRead === 2, "bytesRead is 2");
      check(status === input[1], "status is the STATUS byte");
      return bytesRead;
    },
  },
  request: {
    name: "decodeRequest()",
    decode: decodeRequest,
    start: 0,
    takesAll: false,
    checkValue({ command, destination }, input, bytesRead) {
      check([1, 2, 3].includes(command), "command is 1, 2 or 3");
      check(command === input[1], "command is the CMD byte");
      check(
        checkAddress(destination, input, 3) === bytesRead,
        "bytesRead ends DST.PORT",
      );
      return bytesRead;
    },
  },
  reply: {
    name: "decodeReply()",
    decode: decodeReply,
    start: 0,
    takesAll: false,
    checkValue({ reply, bound }, input, bytesRead) {
      check(reply >= 0 && reply <= 8 && reply === input[1], "REP is 0-8");
      check(
        checkAddress(bound, input, 3) === bytesRead,
        "bytesRead ends BND.PORT",
      );
      return bytesRead;
    },
  },
  udpDatagram: {
    name: "decodeUdpDatagram()",
    decode: decodeUdpDatagram,
    start: 0,
    takesAll: true,
    checkValue({ frag, destination, data }, input, bytesRead) {
      check(bytesRead === input.length, "a datagram is read whole");
      check(frag === input[2], "frag is the FRAG byte");
      const header = checkAddress(destination, input, 3);
      check(sameBytes(data, input.subarray(header)), "data follows the header");
      check(
        data.buffer === input.buffer &&
          data.byteOffset === input.byteOffset + header,
        "data is a view, not a copy",
      );
      return header;
    },
  },
  address: {
    name: "decodeAddress()",
    decode: (bytes) => decodeAddress(bytes, { offset: 0 }),
    start: 0,
    takesAll: false,
    checkValue(address, input, bytesRead) {
      check(
        checkAddress(address, input, 0) === bytesRead,
        "bytesRead ends PORT",
      );
      return bytesRead;
    },
  },
  addressAt3: {
    name: "decodeAddress() at offset 3",
    decode: (bytes) => decodeAddress(bytes, { offset: 3, frame: "reply" }),
    start: 3,
    takesAll: false,
    checkValue(address, input, bytesRead) {
      check(
        checkAddress(address, input, 3) === bytesRead,
        "bytesRead ends PORT",
      );
      return bytesRead;
    },
  },
  proxyHeader: {
    name: "decodeProxyHeader()",
    decode: decodeProxyHeader,
    start: 0,
    takesAll: false,
    checkValue(header, input, bytesRead) {
      const { version, command, source, destination, tlvs } = header;
      check(version === (input[0] === 0x0d ? 2 : 1), "version from byte 0");
      check(command === "proxy" || version === 2, "LOCAL is v2 only");
      check((source === null) === (destination === null), "both or neither");
      check(command === "proxy" || source === null, "LOCAL has no address");
      for (const address of [source, destination]) {
        if (address === null) continue;
        check(
          Number.isInteger(address.port) && address.port >= 0 &&
            address.port <= 0xffff,
          "port is 0-65535",
        );
      }
      if (version === 1) {
        check(tlvs.length === 0, "v1 has no TLVs");
        check(bytesRead <= 107, "a v1 line is at most 107 bytes");
        check(
          input[bytesRead - 2] === 0x0d && input[bytesRead - 1] === 0x0a,
          "a v1 line ends in CRLF",
        );
      } else {
        check(
          bytesRead === 16 + (input[14]! << 8 | input[15]!),
          "bytesRead is 16 + LEN",
        );
        for (const tlv of tlvs) {
          check(
            tlv.value.buffer === input.buffer &&
              tlv.value.byteOffset + tlv.value.length <=
                input.byteOffset + bytesRead,
            "a TLV is a view within the header",
          );
        }
      }
      return bytesRead;
    },
  },
};

/**
 * Checks one answer: shape, bounds and the value, then re-decodes to check
 * it is consistent — a `done` frame decodes alone to the same answer and
 * one byte short is `partial`; an error is reported from the bytes up to
 * its offset; `needed - 1` more bytes never complete a `partial` frame.
 */
export function checkWellFormed<T>(
  subject: Subject<T>,
  input: Uint8Array,
  result: Decoded<T>,
  filler: Uint8Array,
): void {
  const { decode } = subject;
  check(typeof result === "object" && result !== null, "result is an object");
  switch (result.status) {
    case "done": {
      const { bytesRead } = result;
      check(Number.isInteger(bytesRead), "bytesRead is an integer");
      check(bytesRead >= 1 && bytesRead <= input.length, "bytesRead in range");
      check(Object.keys(result).length === 3, "done has value and bytesRead");
      const fixedEnd = subject.checkValue(result.value, input, bytesRead);
      if (!subject.takesAll) {
        const alone = decode(input.subarray(0, bytesRead));
        check(
          alone.status === "done" && alone.bytesRead === bytesRead,
          "the frame alone decodes the same",
        );
      }
      const short = decode(input.subarray(0, fixedEnd - 1));
      check(short.status === "partial", "one byte short is partial");
      return;
    }
    case "partial": {
      const { needed } = result;
      check(Number.isInteger(needed) && needed >= 1, "needed is >= 1");
      check(Object.keys(result).length === 2, "partial has only needed");
      if (needed > 1 && needed - 1 <= filler.length) {
        const padded = new Uint8Array(input.length + needed - 1);
        padded.set(input);
        padded.set(filler.subarray(0, needed - 1), input.length);
        check(
          decode(padded).status !== "done",
          "needed is a lower bound: needed - 1 more bytes do not complete",
        );
      }
      return;
    }
    case "invalid": {
      const { error } = result;
      check(typeof error.code === "string", "code is a string");
      check(ERROR_CODES.has(error.code), `code ${error.code} is known`);
      check(typeof error.message === "string", "message is a string");
      check(
        error.message.startsWith("Cannot decode "),
        "message is a sentence",
      );
      check(Number.isInteger(error.offset), "offset is an integer");
      check(
        error.offset >= subject.start && error.offset < input.length,
        "offset is within the input",
      );
      check(
        error.reply === null ||
          (Number.isInteger(error.reply) && error.reply >= 0 &&
            error.reply <= 8),
        "reply is null or 0-8",
      );
      const upTo = decode(input.subarray(0, error.offset + 1));
      check(
        upTo.status === "invalid" && upTo.error.code === error.code &&
          upTo.error.offset === error.offset,
        "the error shows as soon as its byte arrives",
      );
      return;
    }
    default:
      check(false, `status ${(result as { status: unknown }).status}`);
  }
}
