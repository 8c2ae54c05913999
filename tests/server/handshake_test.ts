import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Handshake, type HandshakeEvent } from "../../src/server/handshake.ts";
import { bytes } from "../_helpers/memory_connection.ts";

const NO_AUTH = [0x00];
const USER_PASS = [0x02];

const GREETING_NO_AUTH = bytes(0x05, 0x01, 0x00);
const GREETING_USER_PASS = bytes(0x05, 0x01, 0x02);
const AUTH_ALICE = bytes(0x01, 5, "alice", 6, "s3cret");
const REQUEST_IPV4 = bytes(0x05, 0x01, 0x00, 0x01, 127, 0, 0, 1, 0x00, 0x50);
const REQUEST_DOMAIN = bytes(
  0x05,
  0x01,
  0x00,
  0x03,
  11,
  "example.com",
  0x01,
  0xbb,
);
const PAYLOAD = bytes("GET / HTTP/1.1\r\n");

function reply(code: number): number[] {
  return [0x05, code, 0x00, 0x01, 0, 0, 0, 0, 0, 0];
}

interface Run {
  /** Every `send`, concatenated. */
  sent: number[];
  /** Every event but `read`; a request's `leftover` is left out. */
  events: unknown[];
  /** A request's leftover plus every byte fed after it. */
  payload: number[];
}

// Feeds chunks as a driver would, answering `authenticate` with `allow`.
function drive(
  methods: readonly number[],
  chunks: readonly Uint8Array[],
  allow = true,
): Run {
  const handshake = new Handshake({ methods });
  const run: Run = { sent: [], events: [], payload: [] };
  let state: "handshaking" | "relaying" | "failed" = "handshaking";
  const take = (step: { send: Uint8Array; event: HandshakeEvent }) => {
    run.sent.push(...step.send);
    const { event } = step;
    if (event.type === "read") return;
    if (event.type === "request") {
      run.events.push({ type: "request", request: event.request });
      run.payload.push(...event.leftover);
      state = "relaying";
    } else if (event.type === "failed") {
      run.events.push(event);
      state = "failed";
    } else {
      run.events.push(event);
      take(handshake.authenticated(allow));
    }
  };
  for (const chunk of chunks) {
    if (state === "handshaking") take(handshake.receive(chunk));
    else if (state === "relaying") run.payload.push(...chunk);
  }
  return run;
}

function everySplit(input: Uint8Array): Uint8Array[][] {
  const out: Uint8Array[][] = [];
  for (let i = 1; i < input.length; i++) {
    out.push([input.subarray(0, i), input.subarray(i)]);
    for (let j = i + 1; j < input.length; j++) {
      out.push([
        input.subarray(0, i),
        input.subarray(i, j),
        input.subarray(j),
      ]);
    }
  }
  return out;
}

function byteByByte(input: Uint8Array): Uint8Array[] {
  return Array.from(input, (_, i) => input.subarray(i, i + 1));
}

describe("Handshake", () => {
  it("receive() with no auth answers 05 00 and gives the request", () => {
    const handshake = new Handshake({ methods: NO_AUTH });
    assert.equal(handshake.method, 0xff);
    const greeted = handshake.receive(GREETING_NO_AUTH);
    assert.deepEqual([...greeted.send], [0x05, 0x00]);
    assert.deepEqual(greeted.event, { type: "read" });
    assert.equal(handshake.method, 0x00);
    const requested = handshake.receive(REQUEST_DOMAIN);
    assert.deepEqual([...requested.send], []);
    assert.equal(requested.event.type, "request");
    assert.deepEqual(requested.event, {
      type: "request",
      request: {
        command: 0x01,
        destination: { type: 0x03, host: "example.com", port: 443 },
      },
      leftover: new Uint8Array(0),
    });
  });

  it("receive() asks for more bytes on an empty chunk", () => {
    const handshake = new Handshake({ methods: NO_AUTH });
    const step = handshake.receive(new Uint8Array(0));
    assert.deepEqual([...step.send], []);
    assert.deepEqual(step.event, { type: "read" });
  });

  it("authenticated(true) answers 01 00 and goes on to the request", () => {
    const handshake = new Handshake({ methods: USER_PASS });
    const greeted = handshake.receive(GREETING_USER_PASS);
    assert.deepEqual([...greeted.send], [0x05, 0x02]);
    assert.deepEqual(greeted.event, { type: "read" });
    assert.equal(handshake.method, 0x02);
    const authenticating = handshake.receive(AUTH_ALICE);
    assert.deepEqual([...authenticating.send], []);
    assert.deepEqual(authenticating.event, {
      type: "authenticate",
      username: "alice",
      password: "s3cret",
    });
    const accepted = handshake.authenticated(true);
    assert.deepEqual([...accepted.send], [0x01, 0x00]);
    assert.deepEqual(accepted.event, { type: "read" });
    const requested = handshake.receive(REQUEST_IPV4);
    assert.deepEqual([...requested.send], []);
    assert.deepEqual(requested.event, {
      type: "request",
      request: {
        command: 0x01,
        destination: { type: 0x01, host: "127.0.0.1", port: 80 },
      },
      leftover: new Uint8Array(0),
    });
  });

  it("authenticated(false) answers 01 01 and fails with auth_failed", () => {
    const handshake = new Handshake({ methods: USER_PASS });
    handshake.receive(GREETING_USER_PASS);
    handshake.receive(AUTH_ALICE);
    const refused = handshake.authenticated(false);
    assert.deepEqual([...refused.send], [0x01, 0x01]);
    assert.deepEqual(refused.event, {
      type: "failed",
      reason: "auth_failed",
      message: "Username or password is wrong",
    });
    assert.throws(() => handshake.receive(REQUEST_IPV4), {
      message: "Cannot receive: the handshake has finished",
    });
  });

  it("receive() passes an empty password on for the caller to decide", () => {
    const handshake = new Handshake({ methods: USER_PASS });
    const step = handshake.receive(
      bytes(GREETING_USER_PASS, 0x01, 5, "alice", 0),
    );
    assert.deepEqual([...step.send], [0x05, 0x02]);
    assert.deepEqual(step.event, {
      type: "authenticate",
      username: "alice",
      password: "",
    });
  });

  it("receive() picks the first of its own methods the client offers", () => {
    const cases: Array<[number[], number[], number]> = [
      [[0x00, 0x02], [0x02, 0x00], 0x00],
      [[0x00, 0x02], [0x02], 0x02],
      [[0x02, 0x00], [0x00, 0x02], 0x02],
      [[0x02, 0x00], [0x01, 0x00, 0x80], 0x00],
      [[0x00], [0x01, 0x02, 0x00], 0x00],
    ];
    for (const [methods, offered, chosen] of cases) {
      const handshake = new Handshake({ methods });
      const step = handshake.receive(
        bytes(0x05, offered.length, offered),
      );
      const label = `methods ${methods} offered ${offered}`;
      assert.deepEqual([...step.send], [0x05, chosen], label);
      assert.deepEqual(step.event, { type: "read" }, label);
      assert.equal(handshake.method, chosen, label);
    }
  });

  it("receive() answers 05 FF when no offered method is acceptable", () => {
    const handshake = new Handshake({ methods: USER_PASS });
    const step = handshake.receive(bytes(0x05, 0x02, 0x00, 0x01));
    assert.deepEqual([...step.send], [0x05, 0xff]);
    assert.deepEqual(step.event, {
      type: "failed",
      reason: "no_acceptable_method",
      message: "No acceptable method among those offered: 0, 1",
    });
    assert.equal(handshake.method, 0xff);
  });

  it("receive() answers 05 FF to a greeting with NMETHODS 0", () => {
    const handshake = new Handshake({ methods: NO_AUTH });
    const step = handshake.receive(bytes(0x05, 0x00));
    assert.deepEqual([...step.send], [0x05, 0xff]);
    assert.deepEqual(step.event, {
      type: "failed",
      reason: "protocol_error",
      message: "Cannot decode greeting: it offers no methods",
    });
  });

  it("receive() answers a SOCKS4 greeting with 00 5B and fails with socks4", () => {
    for (
      const input of [
        bytes(0x04, 0x01, 0x00, 0x50, 127, 0, 0, 1, "bob", 0),
        bytes(0x04),
      ]
    ) {
      const handshake = new Handshake({ methods: NO_AUTH });
      const step = handshake.receive(input);
      assert.deepEqual([...step.send], [0x00, 0x5b, 0, 0, 0, 0, 0, 0]);
      assert.deepEqual(step.event, {
        type: "failed",
        reason: "socks4",
        message: "Client speaks SOCKS4; only SOCKS5 is served",
      });
    }
  });

  it("receive() fails on another greeting version without sending", () => {
    const handshake = new Handshake({ methods: NO_AUTH });
    const step = handshake.receive(bytes("GET / HTTP/1.1\r\n"));
    assert.deepEqual([...step.send], []);
    assert.deepEqual(step.event, {
      type: "failed",
      reason: "protocol_error",
      message: "Cannot decode greeting: version 0x47 is not 0x05",
    });
  });

  it("receive() answers 01 01 to a bad username/password version", () => {
    const handshake = new Handshake({ methods: USER_PASS });
    const step = handshake.receive(
      bytes(GREETING_USER_PASS, 0x05, 5, "alice", 6, "s3cret"),
    );
    assert.deepEqual([...step.send], [0x05, 0x02, 0x01, 0x01]);
    assert.deepEqual(step.event, {
      type: "failed",
      reason: "protocol_error",
      message:
        "Cannot decode username/password request: version 0x05 is not 0x01",
    });
  });

  it("receive() answers a bad request with the reply it is owed", () => {
    const cases: Array<[string, Uint8Array, number, string]> = [
      [
        "bad version",
        bytes(0x04, 0x01, 0x00, 0x01, 127, 0, 0, 1, 0, 80),
        0x01,
        "Cannot decode request: version 0x04 is not 0x05",
      ],
      [
        "command 0x09",
        bytes(0x05, 0x09, 0x00, 0x01, 127, 0, 0, 1, 0, 80),
        0x07,
        "Cannot decode request: command 0x09 is not supported",
      ],
      [
        "address type 0x05",
        bytes(0x05, 0x01, 0x00, 0x05, 127, 0, 0, 1, 0, 80),
        0x08,
        "Cannot decode request: address type 0x05 is not supported",
      ],
      [
        "empty domain",
        bytes(0x05, 0x01, 0x00, 0x03, 0, 0, 80),
        0x01,
        "Cannot decode request: domain name is empty",
      ],
    ];
    for (const [name, request, code, message] of cases) {
      const handshake = new Handshake({ methods: NO_AUTH });
      const step = handshake.receive(bytes(GREETING_NO_AUTH, request));
      assert.deepEqual([...step.send], [0x05, 0x00, ...reply(code)], name);
      assert.deepEqual(
        step.event,
        { type: "failed", reason: "protocol_error", message },
        name,
      );
      assert.throws(() => handshake.receive(bytes(0)), {
        message: "Cannot receive: the handshake has finished",
      });
    }
  });

  it("receive() takes greeting, login, request and payload in one chunk", () => {
    const handshake = new Handshake({ methods: USER_PASS });
    const step = handshake.receive(
      bytes(GREETING_USER_PASS, AUTH_ALICE, REQUEST_IPV4, PAYLOAD),
    );
    assert.deepEqual([...step.send], [0x05, 0x02]);
    assert.deepEqual(step.event, {
      type: "authenticate",
      username: "alice",
      password: "s3cret",
    });
    const accepted = handshake.authenticated(true);
    assert.deepEqual([...accepted.send], [0x01, 0x00]);
    assert.equal(accepted.event.type, "request");
    assert.deepEqual(accepted.event, {
      type: "request",
      request: {
        command: 0x01,
        destination: { type: 0x01, host: "127.0.0.1", port: 80 },
      },
      leftover: PAYLOAD,
    });
  });

  it("receive() only buffers while credentials are being checked", () => {
    const handshake = new Handshake({ methods: USER_PASS });
    const first = handshake.receive(bytes(GREETING_USER_PASS, AUTH_ALICE));
    assert.equal(first.event.type, "authenticate");
    const during = handshake.receive(REQUEST_IPV4);
    assert.deepEqual([...during.send], []);
    assert.deepEqual(during.event, { type: "read" });
    const duringToo = handshake.receive(PAYLOAD);
    assert.deepEqual([...duringToo.send], []);
    assert.deepEqual(duringToo.event, { type: "read" });
    const accepted = handshake.authenticated(true);
    assert.deepEqual([...accepted.send], [0x01, 0x00]);
    assert.deepEqual(accepted.event, {
      type: "request",
      request: {
        command: 0x01,
        destination: { type: 0x01, host: "127.0.0.1", port: 80 },
      },
      leftover: PAYLOAD,
    });
  });

  it("receive() gives the same sends and events however the bytes are split", () => {
    const inputs: Array<[string, number[], Uint8Array, boolean]> = [
      [
        "no auth",
        NO_AUTH,
        bytes(GREETING_NO_AUTH, REQUEST_DOMAIN, "hi"),
        true,
      ],
      [
        "login",
        USER_PASS,
        bytes(GREETING_USER_PASS, AUTH_ALICE, REQUEST_IPV4, "hi"),
        true,
      ],
      [
        "refused login",
        USER_PASS,
        bytes(GREETING_USER_PASS, AUTH_ALICE, REQUEST_IPV4),
        false,
      ],
      [
        "bad command",
        NO_AUTH,
        bytes(GREETING_NO_AUTH, 0x05, 0x09, 0x00, 0x01, 1, 2, 3, 4, 0, 80),
        true,
      ],
    ];
    for (const [name, methods, input, allow] of inputs) {
      const whole = drive(methods, [input], allow);
      assert.ok(whole.events.length >= 1, name);
      for (const chunks of [byteByByte(input), ...everySplit(input)]) {
        const label = `${name} in ${chunks.map((c) => c.length)}`;
        assert.deepEqual(drive(methods, chunks, allow), whole, label);
      }
    }
  });

  it("receive() gives exact sends and events for a split login", () => {
    const input = bytes(GREETING_USER_PASS, AUTH_ALICE, REQUEST_IPV4, "hi");
    const expected: Run = {
      sent: [0x05, 0x02, 0x01, 0x00],
      events: [
        { type: "authenticate", username: "alice", password: "s3cret" },
        {
          type: "request",
          request: {
            command: 0x01,
            destination: { type: 0x01, host: "127.0.0.1", port: 80 },
          },
        },
      ],
      payload: [0x68, 0x69],
    };
    assert.deepEqual(drive(USER_PASS, [input]), expected);
    assert.deepEqual(drive(USER_PASS, byteByByte(input)), expected);
  });

  it("receive() throws once the handshake has finished", () => {
    const handshake = new Handshake({ methods: NO_AUTH });
    const step = handshake.receive(bytes(GREETING_NO_AUTH, REQUEST_IPV4));
    assert.equal(step.event.type, "request");
    assert.throws(() => handshake.receive(PAYLOAD), {
      name: "Error",
      message: "Cannot receive: the handshake has finished",
    });
  });

  it("authenticated() throws without pending credentials", () => {
    const fresh = new Handshake({ methods: USER_PASS });
    assert.throws(() => fresh.authenticated(true), {
      message: "Cannot authenticate: no credentials are pending",
    });
    const greeted = new Handshake({ methods: USER_PASS });
    greeted.receive(GREETING_USER_PASS);
    assert.throws(() => greeted.authenticated(true), {
      message: "Cannot authenticate: no credentials are pending",
    });
    const answered = new Handshake({ methods: USER_PASS });
    answered.receive(bytes(GREETING_USER_PASS, AUTH_ALICE));
    answered.authenticated(true);
    assert.throws(() => answered.authenticated(true), {
      message: "Cannot authenticate: no credentials are pending",
    });
  });
});
