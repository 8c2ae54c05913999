/**
 * The server side of the SOCKS5 handshake as a sans-IO state machine:
 * greeting → method selection → (username/password) → request. Bytes go in
 * through {@linkcode Handshake.receive}; bytes to send and the next event
 * come out. It never reads a socket, a clock or a credential store: the
 * caller answers `authenticate` with {@linkcode Handshake.authenticated}.
 *
 * @module
 */

import { concat } from "../bytes.ts";
import { AuthMethod, AuthStatus, Reply } from "../wire/constants.ts";
import { decodeGreeting } from "../wire/greeting.ts";
import { encodeMethodSelection } from "../wire/method_selection.ts";
import { encodeReply } from "../wire/reply.ts";
import { decodeRequest, type Request } from "../wire/request.ts";
import type { ProtocolError } from "../wire/result.ts";
import {
  decodeUserPassRequest,
  encodeUserPassReply,
} from "../wire/user_pass.ts";
import type { FailureReason } from "../observe/metrics.ts";

/**
 * What the handshake wants next.
 *
 * - `read`: nothing to decide; feed more bytes.
 * - `authenticate`: check the credentials, then call `authenticated()`.
 * - `request`: the handshake is over. Answer with a reply; `leftover` is
 *   what the client pipelined after the request, for the destination.
 * - `failed`: send `send`, then close. `reason` is for the log.
 *
 * @example
 * ```ts
 * import type { HandshakeEvent } from "./handshake.ts";
 * const event: HandshakeEvent = { type: "read" };
 * ```
 */
export type HandshakeEvent =
  | { type: "read" }
  | { type: "authenticate"; username: string; password: string }
  | { type: "request"; request: Request; leftover: Uint8Array }
  | { type: "failed"; reason: FailureReason; message: string };

/**
 * Bytes to send (possibly empty) and what comes next.
 *
 * @example
 * ```ts
 * import type { HandshakeStep } from "./handshake.ts";
 * const step: HandshakeStep = { send: new Uint8Array(0), event: { type: "read" } };
 * ```
 */
export interface HandshakeStep {
  /** Send these before acting on `event`. */
  send: Uint8Array;
  /** What to do next. */
  event: HandshakeEvent;
}

/**
 * Options of one handshake.
 *
 * @example
 * ```ts
 * import type { HandshakeOptions } from "./handshake.ts";
 * const options: HandshakeOptions = { methods: [0x02] };
 * ```
 */
export interface HandshakeOptions {
  /**
   * Methods this client may use, most preferred first: the first one the
   * client also offers is chosen.
   */
  methods: readonly number[];
}

type State = "greeting" | "auth" | "authenticating" | "request" | "finished";

const EMPTY = new Uint8Array(0);

// A SOCKS4 client gets the SOCKS4 "request rejected" reply (0x5B), so it
// reports a clear failure instead of a bare close.
const SOCKS4_REJECTED = new Uint8Array([0x00, 0x5b, 0, 0, 0, 0, 0, 0]);

/**
 * One client's handshake.
 *
 * @example
 * ```ts
 * import { Handshake } from "./handshake.ts";
 * const handshake = new Handshake({ methods: [0x00] });
 * const step = handshake.receive(
 *   new Uint8Array([5, 1, 0, 5, 1, 0, 1, 127, 0, 0, 1, 0, 80]),
 * );
 * console.log(step.send); // Uint8Array(2) [ 5, 0 ]
 * console.log(step.event.type); // "request"
 * ```
 */
export class Handshake {
  #state: State = "greeting";
  #buffer: Uint8Array = EMPTY;
  #methods: readonly number[];
  #method: number = AuthMethod.NoAcceptable;

  constructor(options: HandshakeOptions) {
    this.#methods = options.methods;
  }

  /** Whether an `authenticate` event waits for `authenticated()`. */
  get authenticating(): boolean {
    return this.#state === "authenticating";
  }

  /** The chosen method, or 0xFF before one is chosen. */
  get method(): number {
    return this.#method;
  }

  /**
   * Takes the next bytes from the client. While an `authenticate` event is
   * unanswered, bytes are only buffered.
   */
  receive(bytes: Uint8Array): HandshakeStep {
    if (this.#state === "finished") {
      throw new Error("Cannot receive: the handshake has finished");
    }
    this.#buffer = this.#buffer.length === 0
      ? bytes
      : concat([this.#buffer, bytes]);
    if (this.#state === "authenticating") {
      return { send: EMPTY, event: { type: "read" } };
    }
    return this.#advance([]);
  }

  /** Answers an `authenticate` event. */
  authenticated(ok: boolean): HandshakeStep {
    if (this.#state !== "authenticating") {
      throw new Error("Cannot authenticate: no credentials are pending");
    }
    const reply = encodeUserPassReply({
      status: ok ? AuthStatus.Success : AuthStatus.Failure,
    });
    if (!ok) {
      // RFC 1929 §2: after a failure status the server closes.
      return this.#fail([reply], {
        reason: "auth_failed",
        message: "Username or password is wrong",
      });
    }
    this.#state = "request";
    return this.#advance([reply]);
  }

  #advance(sends: Uint8Array[]): HandshakeStep {
    for (;;) {
      const event = this.#step(sends);
      if (event !== null) return { send: joined(sends), event };
    }
  }

  // One decoding step: an event to stop at, or null to decode again.
  #step(sends: Uint8Array[]): HandshakeEvent | null {
    switch (this.#state) {
      case "greeting":
        return this.#greeting(sends);
      case "auth":
        return this.#auth(sends);
      case "request":
        return this.#request(sends);
      default:
        throw new Error(`Cannot advance: state is ${this.#state}`);
    }
  }

  #greeting(sends: Uint8Array[]): HandshakeEvent | null {
    const result = decodeGreeting(this.#buffer);
    if (result.status === "partial") return { type: "read" };
    if (result.status === "invalid") {
      if (this.#buffer[0] === 0x04) {
        sends.push(SOCKS4_REJECTED);
        return this.#failEvent({
          reason: "socks4",
          message: "Client speaks SOCKS4; only SOCKS5 is served",
        });
      }
      if (result.error.code === "no_methods") {
        sends.push(encodeMethodSelection({ method: AuthMethod.NoAcceptable }));
      }
      return this.#protocolError(result.error);
    }
    this.#consume(result.bytesRead);
    const offered = result.value.methods;
    const method = this.#methods.find((m) => offered.includes(m));
    if (method === undefined) {
      // RFC 1928 §3: X'FF', and the client must close; we close too.
      sends.push(encodeMethodSelection({ method: AuthMethod.NoAcceptable }));
      return this.#failEvent({
        reason: "no_acceptable_method",
        message: `No acceptable method among those offered: ${
          offered.join(", ")
        }`,
      });
    }
    this.#method = method;
    sends.push(encodeMethodSelection({ method }));
    this.#state = method === AuthMethod.UserPass ? "auth" : "request";
    return null;
  }

  #auth(sends: Uint8Array[]): HandshakeEvent | null {
    const result = decodeUserPassRequest(this.#buffer);
    if (result.status === "partial") return { type: "read" };
    if (result.status === "invalid") {
      sends.push(encodeUserPassReply({ status: AuthStatus.Failure }));
      return this.#protocolError(result.error);
    }
    this.#consume(result.bytesRead);
    this.#state = "authenticating";
    return { type: "authenticate", ...result.value };
  }

  #request(sends: Uint8Array[]): HandshakeEvent | null {
    const result = decodeRequest(this.#buffer);
    if (result.status === "partial") return { type: "read" };
    if (result.status === "invalid") {
      const reply = result.error.reply ?? Reply.GeneralFailure;
      sends.push(encodeReply({ reply }));
      return this.#protocolError(result.error);
    }
    // Hand the pipelined bytes over as they are: a view, no copy.
    const leftover = this.#buffer.subarray(result.bytesRead);
    this.#buffer = EMPTY;
    this.#state = "finished";
    return { type: "request", request: result.value, leftover };
  }

  #consume(count: number): void {
    this.#buffer = this.#buffer.subarray(count);
  }

  #protocolError(error: ProtocolError): HandshakeEvent {
    return this.#failEvent({
      reason: "protocol_error",
      message: error.message,
    });
  }

  #failEvent(
    failure: { reason: FailureReason; message: string },
  ): HandshakeEvent {
    this.#state = "finished";
    this.#buffer = EMPTY;
    return { type: "failed", ...failure };
  }

  #fail(
    sends: Uint8Array[],
    failure: { reason: FailureReason; message: string },
  ): HandshakeStep {
    return { send: joined(sends), event: this.#failEvent(failure) };
  }
}

// Most steps send one message or none: no copy for those.
function joined(sends: Uint8Array[]): Uint8Array {
  return sends.length === 0
    ? EMPTY
    : sends.length === 1
    ? sends[0]!
    : concat(sends);
}
