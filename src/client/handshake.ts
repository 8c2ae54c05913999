/**
 * The client side of the SOCKS5 handshake as a sans-IO state machine:
 * greeting → method selection → (username/password, RFC 1929) → request →
 * reply, and for BIND the second reply. Bytes to send come out as return
 * values; bytes received go in through {@linkcode ClientHandshake.receive}.
 * It never reads a socket or a clock, and never takes a byte past the
 * message it is decoding: what follows the final reply comes back as
 * `leftover`, so data the destination sends right after the reply is the
 * caller's, untouched.
 *
 * @module
 */

import { concat } from "../bytes.ts";
import type { SocksAddress } from "../wire/address.ts";
import { AuthMethod, Command, Reply } from "../wire/constants.ts";
import { encodeGreeting } from "../wire/greeting.ts";
import { decodeMethodSelection } from "../wire/method_selection.ts";
import { decodeReply, type ReplyMessage } from "../wire/reply.ts";
import { encodeRequest } from "../wire/request.ts";
import { type Decoded, hex } from "../wire/result.ts";
import {
  decodeUserPassReply,
  encodeUserPassRequest,
} from "../wire/user_pass.ts";
import {
  SocksAuthError,
  type SocksError,
  SocksProtocolError,
  SocksReplyError,
} from "./errors.ts";

/**
 * RFC 1929 credentials.
 *
 * @example
 * ```ts
 * import type { Credentials } from "./handshake.ts";
 * const credentials: Credentials = { username: "alice", password: "s3cret" };
 * ```
 */
export interface Credentials {
  /** UNAME, 1–255 bytes of UTF-8. */
  username: string;
  /** PASSWD, 0–255 bytes of UTF-8. */
  password: string;
}

/**
 * Options of one client handshake.
 *
 * @example
 * ```ts
 * import type { ClientHandshakeOptions } from "./handshake.ts";
 * const options: ClientHandshakeOptions = {
 *   command: 0x01,
 *   destination: { type: 0x03, host: "example.com", port: 443 },
 * };
 * ```
 */
export interface ClientHandshakeOptions {
  /** CONNECT, BIND or UDP ASSOCIATE. */
  command: Command;
  /** DST.ADDR and DST.PORT of the request. */
  destination: SocksAddress;
  /**
   * Offered as method 0x02 besides 0x00; without them only 0x00 is
   * offered.
   */
  credentials?: Credentials;
}

/**
 * What the handshake wants next.
 *
 * - `read`: feed at least `needed` more bytes. `needed` never reaches past
 *   the end of the message being decoded, so a caller that reads exactly
 *   that many never over-reads.
 * - `bound`: BIND's first reply, the address the proxy listens on. Call
 *   `receive()` again (with no bytes to decode what is already buffered)
 *   for the second reply.
 * - `established`: the final success reply. `leftover` is what arrived
 *   after it: the first bytes of the tunnel.
 * - `failed`: the handshake is over; close the connection.
 *
 * @example
 * ```ts
 * import type { ClientHandshakeEvent } from "./handshake.ts";
 * const event: ClientHandshakeEvent = { type: "read", needed: 2 };
 * ```
 */
export type ClientHandshakeEvent =
  | { type: "read"; needed: number }
  | { type: "bound"; reply: ReplyMessage }
  | { type: "established"; reply: ReplyMessage; leftover: Uint8Array }
  | { type: "failed"; error: SocksError };

/**
 * Bytes to send (possibly empty) and what comes next.
 *
 * @example
 * ```ts
 * import type { ClientHandshakeStep } from "./handshake.ts";
 * const step: ClientHandshakeStep = {
 *   send: new Uint8Array([5, 1, 0]),
 *   event: { type: "read", needed: 2 },
 * };
 * ```
 */
export interface ClientHandshakeStep {
  /** Send these before acting on `event`. */
  send: Uint8Array;
  /** What to do next. */
  event: ClientHandshakeEvent;
}

type State =
  | "new"
  | "method"
  | "login"
  | "reply"
  | "second_reply"
  | "finished";

// What each state awaits, for the message of a close mid-handshake.
const AWAITED: Readonly<
  Record<Exclude<State, "new" | "finished">, string>
> = {
  method: "its method selection",
  login: "its login reply",
  reply: "its reply",
  second_reply: "its second reply",
};

const EMPTY = new Uint8Array(0);

/**
 * One handshake with a proxy. The constructor encodes every message up
 * front, so bad input (a 300-byte username, port 70000) throws there, not
 * halfway through.
 *
 * @example
 * ```ts
 * import { ClientHandshake } from "./handshake.ts";
 * const handshake = new ClientHandshake({
 *   command: 0x01,
 *   destination: { type: 0x01, host: "127.0.0.1", port: 80 },
 * });
 * console.log(handshake.start().send); // Uint8Array(3) [ 5, 1, 0 ]
 * const step = handshake.receive(new Uint8Array([5, 0]));
 * console.log(step.send.length); // 10
 * const done = handshake.receive(
 *   new Uint8Array([5, 0, 0, 1, 127, 0, 0, 1, 4, 0, 72, 105]),
 * );
 * if (done.event.type === "established") {
 *   console.log(done.event.leftover); // Uint8Array(2) [ 72, 105 ]
 * }
 * ```
 */
export class ClientHandshake {
  #state: State = "new";
  #buffer: Uint8Array = EMPTY;
  readonly #command: Command;
  readonly #methods: number[];
  readonly #greeting: Uint8Array;
  readonly #login: Uint8Array | null;
  readonly #request: Uint8Array;

  /** Takes the request and, to log in, the credentials. */
  constructor(options: ClientHandshakeOptions) {
    const { command, destination, credentials } = options;
    this.#command = command;
    this.#methods = credentials === undefined
      ? [AuthMethod.NoAuth]
      : [AuthMethod.NoAuth, AuthMethod.UserPass];
    this.#greeting = encodeGreeting({ methods: this.#methods });
    this.#login = credentials === undefined
      ? null
      : encodeUserPassRequest(credentials);
    this.#request = encodeRequest({ command, destination });
  }

  /** The greeting to send first. Call once, before `receive()`. */
  start(): ClientHandshakeStep {
    if (this.#state !== "new") {
      throw new Error("Cannot start: the handshake has started");
    }
    this.#state = "method";
    return {
      send: this.#greeting,
      event: { type: "read", needed: needed(decodeMethodSelection(EMPTY)) },
    };
  }

  /**
   * Takes the next bytes from the proxy; an empty array decodes what is
   * buffered. The bytes are kept as views until decoded: do not reuse them.
   */
  receive(bytes: Uint8Array): ClientHandshakeStep {
    if (this.#state === "new") {
      throw new Error("Cannot receive: the handshake has not started");
    }
    if (this.#state === "finished") {
      throw new Error("Cannot receive: the handshake has finished");
    }
    this.#buffer = this.#buffer.length === 0
      ? bytes
      : bytes.length === 0
      ? this.#buffer
      : concat([this.#buffer, bytes]);
    const sends: Uint8Array[] = [];
    for (;;) {
      const event = this.#step(sends);
      if (event !== null) return { send: concat(sends), event };
    }
  }

  /**
   * The proxy closed its side before the handshake finished: the failure
   * that stands for.
   */
  end(): ClientHandshakeStep {
    if (this.#state === "new" || this.#state === "finished") {
      throw new Error(`Cannot end: the handshake is ${this.#state}`);
    }
    const awaited = AWAITED[this.#state];
    return this.#fail(
      new SocksProtocolError(
        "unexpected_end",
        `SOCKS5 proxy closed the connection before ${awaited}`,
      ),
    );
  }

  // One decoding step: an event to stop at, or null to decode again.
  #step(sends: Uint8Array[]): ClientHandshakeEvent | null {
    switch (this.#state) {
      case "method":
        return this.#method(sends);
      case "login":
        return this.#loginReply(sends);
      case "reply":
      case "second_reply":
        return this.#reply();
      default:
        throw new Error(`Cannot advance: state is ${this.#state}`);
    }
  }

  #method(sends: Uint8Array[]): ClientHandshakeEvent | null {
    const result = decodeMethodSelection(this.#buffer);
    if (result.status !== "done") return this.#notDone(result);
    this.#consume(result.bytesRead);
    const { method } = result.value;
    if (method === AuthMethod.NoAcceptable) {
      // RFC 1928 §3: after X'FF' the client must close.
      return this.#failEvent(
        new SocksAuthError("no_acceptable_method", { offered: this.#methods }),
      );
    }
    if (!this.#methods.includes(method)) {
      return this.#failEvent(
        new SocksProtocolError(
          "unoffered_method",
          `SOCKS5 proxy chose method ${hex(method)}, which was not offered`,
        ),
      );
    }
    if (method === AuthMethod.UserPass) {
      sends.push(this.#login!);
      this.#state = "login";
    } else {
      sends.push(this.#request);
      this.#state = "reply";
    }
    return null;
  }

  #loginReply(sends: Uint8Array[]): ClientHandshakeEvent | null {
    const result = decodeUserPassReply(this.#buffer);
    if (result.status !== "done") return this.#notDone(result);
    this.#consume(result.bytesRead);
    const { status } = result.value;
    // RFC 1929 §2: any status but X'00' is a failure, and the server closes.
    if (status !== 0) {
      return this.#failEvent(new SocksAuthError("login_refused", { status }));
    }
    sends.push(this.#request);
    this.#state = "reply";
    return null;
  }

  #reply(): ClientHandshakeEvent | null {
    const result = decodeReply(this.#buffer);
    if (result.status !== "done") return this.#notDone(result);
    const reply = result.value;
    if (reply.reply !== Reply.Succeeded) {
      // RFC 1928 §6: after a failure reply the server closes.
      return this.#failEvent(new SocksReplyError(reply.reply));
    }
    if (this.#command === Command.Bind && this.#state === "reply") {
      this.#consume(result.bytesRead);
      this.#state = "second_reply";
      return { type: "bound", reply };
    }
    // A view, not a copy: the tunnel's first bytes, as they arrived.
    const leftover = this.#buffer.subarray(result.bytesRead);
    this.#buffer = EMPTY;
    this.#state = "finished";
    return { type: "established", reply, leftover };
  }

  #notDone(
    result: Exclude<Decoded<unknown>, { status: "done" }>,
  ): ClientHandshakeEvent {
    if (result.status === "partial") {
      return { type: "read", needed: result.needed };
    }
    const { code, message } = result.error;
    return this.#failEvent(new SocksProtocolError(code, message));
  }

  #consume(count: number): void {
    this.#buffer = this.#buffer.subarray(count);
  }

  #failEvent(error: SocksError): ClientHandshakeEvent {
    this.#state = "finished";
    this.#buffer = EMPTY;
    return { type: "failed", error };
  }

  #fail(error: SocksError): ClientHandshakeStep {
    return { send: EMPTY, event: this.#failEvent(error) };
  }
}

function needed(result: Decoded<unknown>): number {
  return result.status === "partial" ? result.needed : 0;
}
