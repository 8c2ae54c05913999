import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  SocksAuthError,
  SocksError,
  SocksProtocolError,
  SocksReplyError,
} from "../../src/client/errors.ts";
import {
  ClientHandshake,
  type ClientHandshakeOptions,
  type ClientHandshakeStep,
} from "../../src/client/handshake.ts";
import { type Reply, REPLY_MESSAGES } from "../../src/wire/constants.ts";
import { bytes } from "../_helpers/memory_connection.ts";

const alice = { username: "alice", password: "s3cret" };

const CONNECT_V4: ClientHandshakeOptions = {
  command: 0x01,
  destination: { type: 0x01, host: "127.0.0.1", port: 80 },
};
const CONNECT_V6: ClientHandshakeOptions = {
  command: 0x01,
  destination: { type: 0x04, host: "::1", port: 443 },
};
const CONNECT_NAME: ClientHandshakeOptions = {
  command: 0x01,
  destination: { type: 0x03, host: "example.com", port: 443 },
};
const LOGIN_V4: ClientHandshakeOptions = { ...CONNECT_V4, credentials: alice };
const BIND_ANY: ClientHandshakeOptions = {
  command: 0x02,
  destination: { type: 0x01, host: "0.0.0.0", port: 0 },
};

const GREETING = [0x05, 0x01, 0x00];
const GREETING_LOGIN = [0x05, 0x02, 0x00, 0x02];
const LOGIN_ALICE = [0x01, 5, ...bytes("alice"), 6, ...bytes("s3cret")];
const REQUEST_V4 = [0x05, 0x01, 0x00, 0x01, 127, 0, 0, 1, 0x00, 0x50];
const REQUEST_V6 = [
  0x05,
  0x01,
  0x00,
  0x04,
  ...new Array(15).fill(0),
  1,
  1,
  187,
];
const REQUEST_NAME = [
  0x05,
  0x01,
  0x00,
  0x03,
  11,
  ...bytes("example.com"),
  1,
  187,
];
const REQUEST_BIND = [0x05, 0x02, 0x00, 0x01, 0, 0, 0, 0, 0, 0];
// Success, bound to 10.0.0.7:4660.
const REPLY_OK = [0x05, 0x00, 0x00, 0x01, 10, 0, 0, 7, 0x12, 0x34];
const BOUND_OK = { type: 0x01, host: "10.0.0.7", port: 0x1234 };
// Success with an IPv6 and with a domain BND.ADDR (some servers send one).
const REPLY_V6 = [
  0x05,
  0x00,
  0x00,
  0x04,
  0x20,
  0x01,
  0x0d,
  0xb8,
  ...new Array(11).fill(0),
  9,
  0,
  80,
];
const REPLY_NAME = [0x05, 0x00, 0x00, 0x03, 1, ...bytes("a"), 0, 81];
// BIND's second reply: the peer 192.0.2.9:5555.
const REPLY_PEER = [0x05, 0x00, 0x00, 0x01, 192, 0, 2, 9, 0x15, 0xb3];
const PAYLOAD = [...bytes("HTTP/1.1 200 OK\r\n")];

function failureReply(code: number): number[] {
  return [0x05, code, 0x00, 0x01, 0, 0, 0, 0, 0, 0];
}

interface Run {
  /** Every `send`, concatenated. */
  sent: number[];
  /** Every event but `read`, `leftover` taken out. */
  events: unknown[];
  /** `established`'s leftover. */
  leftover: number[] | null;
  /** The last `read` event's `needed`, or null when the run did not end reading. */
  needed: number | null;
  /** Bytes of the chunks fed after the handshake ended. */
  after: number[];
}

// Feeds `chunks` as a driver would; after `bound`, feeds nothing to decode
// what is buffered, then goes on.
function drive(
  options: ClientHandshakeOptions,
  chunks: readonly number[][],
): Run {
  const handshake = new ClientHandshake(options);
  const run: Run = {
    sent: [],
    events: [],
    leftover: null,
    needed: null,
    after: [],
  };
  const take = (step: ClientHandshakeStep): boolean => {
    run.sent.push(...step.send);
    const { event } = step;
    run.needed = event.type === "read" ? event.needed : null;
    if (event.type === "read") return true;
    if (event.type === "established") {
      run.events.push({ type: event.type, reply: event.reply });
      run.leftover = [...event.leftover];
      return false;
    }
    run.events.push(event);
    if (event.type === "failed") return false;
    return take(handshake.receive(new Uint8Array(0)));
  };
  let going = take(handshake.start());
  for (const chunk of chunks) {
    if (going) going = take(handshake.receive(new Uint8Array(chunk)));
    else run.after.push(...chunk);
  }
  return run;
}

// Every way to cut `stream` into chunks: whole, one byte at a time, and
// split once at each offset.
function chunkings(stream: number[]): number[][][] {
  const out: number[][][] = [[stream], stream.map((byte) => [byte])];
  for (let at = 1; at < stream.length; at++) {
    out.push([stream.slice(0, at), stream.slice(at)]);
  }
  return out;
}

// Reads as Deno's exact-size reads do: never more than `needed` at a time.
function driveExactly(
  options: ClientHandshakeOptions,
  stream: number[],
): { sent: number[]; leftover: number[]; unread: number[]; type: string } {
  const handshake = new ClientHandshake(options);
  const sent: number[] = [];
  let offset = 0;
  let step = handshake.start();
  // Bounded: each round consumes at least one byte of `stream`.
  for (let round = 0; round <= stream.length; round++) {
    sent.push(...step.send);
    const { event } = step;
    if (event.type === "established" || event.type === "failed") {
      return {
        sent,
        leftover: event.type === "established" ? [...event.leftover] : [],
        unread: stream.slice(offset),
        type: event.type,
      };
    }
    if (event.type === "bound") {
      step = handshake.receive(new Uint8Array(0));
      continue;
    }
    assert.ok(event.needed >= 1, `needed is ${event.needed}`);
    const chunk = stream.slice(offset, offset + event.needed);
    offset += chunk.length;
    step = handshake.receive(new Uint8Array(chunk));
  }
  throw new Error("The handshake did not finish");
}

describe("ClientHandshake", () => {
  it("start() sends the greeting offering no authentication and wants 2 bytes", () => {
    const step = new ClientHandshake(CONNECT_V4).start();
    assert.deepEqual([...step.send], GREETING);
    assert.deepEqual(step.event, { type: "read", needed: 2 });
  });

  it("start() offers no authentication and username/password with credentials", () => {
    const step = new ClientHandshake(LOGIN_V4).start();
    assert.deepEqual([...step.send], GREETING_LOGIN);
  });

  const paths: Array<{
    name: string;
    options: ClientHandshakeOptions;
    server: number[];
    sent: number[];
    events: unknown[];
  }> = [
    {
      name: "CONNECT by IPv4 without login",
      options: CONNECT_V4,
      server: [0x05, 0x00, ...REPLY_OK],
      sent: [...GREETING, ...REQUEST_V4],
      events: [{ type: "established", reply: { reply: 0, bound: BOUND_OK } }],
    },
    {
      name: "CONNECT by IPv6, reply bound to IPv6",
      options: CONNECT_V6,
      server: [0x05, 0x00, ...REPLY_V6],
      sent: [...GREETING, ...REQUEST_V6],
      events: [{
        type: "established",
        reply: {
          reply: 0,
          bound: { type: 0x04, host: "2001:db8::9", port: 80 },
        },
      }],
    },
    {
      name: "CONNECT by name, reply bound to a name",
      options: CONNECT_NAME,
      server: [0x05, 0x00, ...REPLY_NAME],
      sent: [...GREETING, ...REQUEST_NAME],
      events: [{
        type: "established",
        reply: { reply: 0, bound: { type: 0x03, host: "a", port: 81 } },
      }],
    },
    {
      name: "CONNECT with an RFC 1929 login",
      options: LOGIN_V4,
      server: [0x05, 0x02, 0x01, 0x00, ...REPLY_OK],
      sent: [...GREETING_LOGIN, ...LOGIN_ALICE, ...REQUEST_V4],
      events: [{ type: "established", reply: { reply: 0, bound: BOUND_OK } }],
    },
    {
      name: "CONNECT with credentials when the proxy picks no authentication",
      options: LOGIN_V4,
      server: [0x05, 0x00, ...REPLY_OK],
      sent: [...GREETING_LOGIN, ...REQUEST_V4],
      events: [{ type: "established", reply: { reply: 0, bound: BOUND_OK } }],
    },
    {
      name: "BIND, both replies",
      options: BIND_ANY,
      server: [0x05, 0x00, ...REPLY_OK, ...REPLY_PEER],
      sent: [...GREETING, ...REQUEST_BIND],
      events: [
        { type: "bound", reply: { reply: 0, bound: BOUND_OK } },
        {
          type: "established",
          reply: {
            reply: 0,
            bound: { type: 0x01, host: "192.0.2.9", port: 5555 },
          },
        },
      ],
    },
    {
      name: "UDP ASSOCIATE",
      options: {
        command: 0x03,
        destination: { type: 0x01, host: "127.0.0.1", port: 5353 },
      },
      server: [0x05, 0x00, ...REPLY_OK],
      sent: [...GREETING, 0x05, 0x03, 0x00, 0x01, 127, 0, 0, 1, 0x14, 0xe9],
      events: [{ type: "established", reply: { reply: 0, bound: BOUND_OK } }],
    },
  ];

  for (const path of paths) {
    it(`${path.name}: exact bytes, fed every way`, () => {
      for (const chunks of chunkings(path.server)) {
        const run = drive(path.options, chunks);
        const how = `chunks ${JSON.stringify(chunks.map((c) => c.length))}`;
        assert.deepEqual(run.sent, path.sent, how);
        assert.deepEqual(run.events, path.events, how);
        assert.deepEqual(run.leftover, [], how);
      }
    });

    it(`${path.name}: keeps data that came with the reply as leftover`, () => {
      for (const chunks of chunkings([...path.server, ...PAYLOAD])) {
        const run = drive(path.options, chunks);
        const how = `chunks ${JSON.stringify(chunks.map((c) => c.length))}`;
        assert.deepEqual(run.events, path.events, how);
        // What came with the reply is leftover; later chunks are the
        // driver's to read: together they are the data, in order.
        assert.deepEqual([...run.leftover!, ...run.after], PAYLOAD, how);
      }
      const whole = drive(path.options, [[...path.server, ...PAYLOAD]]);
      assert.deepEqual(whole.leftover, PAYLOAD);
      assert.deepEqual(whole.after, []);
    });

    it(`${path.name}: reading exactly \`needed\` never reads past the reply`, () => {
      const run = driveExactly(path.options, [...path.server, ...PAYLOAD]);
      assert.equal(run.type, "established");
      assert.deepEqual(run.sent, path.sent);
      assert.deepEqual(run.leftover, []);
      assert.deepEqual(run.unread, PAYLOAD);
    });
  }

  it("delivers reply and data in one chunk whole, the data as leftover", () => {
    const run = drive(CONNECT_V4, [[0x05, 0x00], [...REPLY_OK, ...PAYLOAD]]);
    assert.deepEqual(run.leftover, PAYLOAD);
  });

  it("decodes BIND's second reply from bytes buffered with the first", () => {
    const handshake = new ClientHandshake(BIND_ANY);
    handshake.start();
    const first = handshake.receive(
      new Uint8Array([0x05, 0x00, ...REPLY_OK, ...REPLY_PEER, 7, 8]),
    );
    assert.deepEqual([...first.send], REQUEST_BIND);
    assert.equal(first.event.type, "bound");
    const second = handshake.receive(new Uint8Array(0));
    assert.equal(second.send.length, 0);
    assert.equal(second.event.type, "established");
    if (second.event.type !== "established") return;
    assert.deepEqual(second.event.reply.bound, {
      type: 0x01,
      host: "192.0.2.9",
      port: 5555,
    });
    assert.deepEqual([...second.event.leftover], [7, 8]);
  });

  it("wants exactly the rest of an IPv4 reply after its first 8 bytes", () => {
    const run = drive(CONNECT_V4, [[0x05, 0x00], REPLY_OK.slice(0, 8)]);
    assert.equal(run.needed, 2);
  });

  it("wants at least 8 bytes of a reply, the shortest one's length", () => {
    const run = drive(CONNECT_V4, [[0x05, 0x00]]);
    assert.equal(run.needed, 8);
  });

  describe("failures", () => {
    function failure(
      options: ClientHandshakeOptions,
      server: number[],
    ): SocksError {
      for (const chunks of chunkings(server)) {
        const run = drive(options, chunks);
        const last = run.events[run.events.length - 1] as {
          type: string;
          error?: SocksError;
        };
        assert.equal(
          last?.type,
          "failed",
          `events ${JSON.stringify(run.events)}`,
        );
      }
      const run = drive(options, [server]);
      return (run.events[run.events.length - 1] as { error: SocksError })
        .error;
    }

    for (let code = 1; code <= 8; code++) {
      it(`turns reply 0x0${code} into a SocksReplyError with its meaning`, () => {
        const error = failure(CONNECT_V4, [0x05, 0x00, ...failureReply(code)]);
        assert.ok(error instanceof SocksReplyError);
        assert.ok(error instanceof SocksError);
        assert.equal(error.reply, code);
        assert.equal(error.name, "SocksReplyError");
        assert.equal(
          error.message,
          `SOCKS5 proxy replied 0x0${code}: ${REPLY_MESSAGES[code as Reply]}`,
        );
      });
    }

    it("says 'connection refused' for reply 0x05", () => {
      const error = failure(CONNECT_V4, [0x05, 0x00, ...failureReply(5)]);
      assert.equal(
        error.message,
        "SOCKS5 proxy replied 0x05: connection refused",
      );
    });

    it("turns a failed second BIND reply into a SocksReplyError", () => {
      const error = failure(BIND_ANY, [
        0x05,
        0x00,
        ...REPLY_OK,
        ...failureReply(2),
      ]);
      assert.ok(error instanceof SocksReplyError);
      assert.equal(error.reply, 2);
    });

    it("turns 05 FF into a SocksAuthError naming the offered methods", () => {
      const error = failure(LOGIN_V4, [0x05, 0xff]);
      assert.ok(error instanceof SocksAuthError);
      assert.equal(error.reason, "no_acceptable_method");
      assert.equal(error.status, null);
      assert.equal(
        error.message,
        "SOCKS5 proxy accepts none of the offered methods: 0x00, 0x02",
      );
    });

    it("turns a refused login into a SocksAuthError with the status", () => {
      const error = failure(LOGIN_V4, [0x05, 0x02, 0x01, 0x01]);
      assert.ok(error instanceof SocksAuthError);
      assert.equal(error.reason, "login_refused");
      assert.equal(error.status, 1);
      assert.equal(
        error.message,
        "SOCKS5 proxy refused the login: status 0x01",
      );
    });

    it("treats any non-zero login status as refused", () => {
      const error = failure(LOGIN_V4, [0x05, 0x02, 0x01, 0x7f]);
      assert.ok(error instanceof SocksAuthError);
      assert.equal(error.status, 0x7f);
    });

    const protocolErrors: Array<{
      name: string;
      options: ClientHandshakeOptions;
      server: number[];
      code: string;
      message: string;
    }> = [
      {
        name: "a method selection of another version",
        options: CONNECT_V4,
        server: [0x04, 0x00],
        code: "bad_version",
        message: "Cannot decode method selection: version 0x04 is not 0x05",
      },
      {
        name: "username/password chosen without credentials",
        options: CONNECT_V4,
        server: [0x05, 0x02],
        code: "unoffered_method",
        message: "SOCKS5 proxy chose method 0x02, which was not offered",
      },
      {
        name: "GSSAPI, never offered",
        options: LOGIN_V4,
        server: [0x05, 0x01],
        code: "unoffered_method",
        message: "SOCKS5 proxy chose method 0x01, which was not offered",
      },
      {
        name: "a login reply of another version",
        options: LOGIN_V4,
        server: [0x05, 0x02, 0x05, 0x00],
        code: "bad_version",
        message:
          "Cannot decode username/password reply: version 0x05 is not 0x01",
      },
      {
        name: "a reply of another version",
        options: CONNECT_V4,
        server: [0x05, 0x00, 0x00, 0x5a, 0, 0, 0, 0, 0, 0],
        code: "bad_version",
        message: "Cannot decode reply: version 0x00 is not 0x05",
      },
      {
        name: "an unassigned reply code",
        options: CONNECT_V4,
        server: [0x05, 0x00, 0x05, 0x09, 0x00, 0x01, 0, 0, 0, 0, 0, 0],
        code: "unassigned_reply",
        message: "Cannot decode reply: reply code 0x09 is unassigned",
      },
      {
        name: "a reply with an unknown address type",
        options: CONNECT_V4,
        server: [0x05, 0x00, 0x05, 0x00, 0x00, 0x02, 0, 0, 0, 0, 0, 0],
        code: "unsupported_address_type",
        message: "Cannot decode reply: address type 0x02 is not supported",
      },
      {
        name: "a reply with an empty domain",
        options: CONNECT_V4,
        server: [0x05, 0x00, 0x05, 0x00, 0x00, 0x03, 0, 0, 0, 0, 0, 0],
        code: "empty_domain",
        message: "Cannot decode reply: domain name is empty",
      },
    ];

    for (const vector of protocolErrors) {
      it(`turns ${vector.name} into a SocksProtocolError`, () => {
        const error = failure(vector.options, vector.server);
        assert.ok(error instanceof SocksProtocolError);
        assert.equal(error.code, vector.code);
        assert.equal(error.message, vector.message);
      });
    }

    const ends: Array<{
      name: string;
      options: ClientHandshakeOptions;
      before: number[];
      awaited: string;
    }> = [
      {
        name: "the method selection",
        options: CONNECT_V4,
        before: [0x05],
        awaited: "its method selection",
      },
      {
        name: "the login reply",
        options: LOGIN_V4,
        before: [0x05, 0x02],
        awaited: "its login reply",
      },
      {
        name: "the reply",
        options: CONNECT_V4,
        before: [0x05, 0x00, 0x05],
        awaited: "its reply",
      },
      {
        name: "the second BIND reply",
        options: BIND_ANY,
        before: [0x05, 0x00, ...REPLY_OK],
        awaited: "its second reply",
      },
    ];

    for (const { name, options, before, awaited } of ends) {
      it(`turns a close before ${name} into a SocksProtocolError`, () => {
        const handshake = new ClientHandshake(options);
        handshake.start();
        let step = handshake.receive(new Uint8Array(before));
        if (step.event.type === "bound") {
          step = handshake.receive(new Uint8Array(0));
        }
        assert.equal(step.event.type, "read");
        const end = handshake.end();
        assert.equal(end.send.length, 0);
        assert.equal(end.event.type, "failed");
        if (end.event.type !== "failed") return;
        assert.ok(end.event.error instanceof SocksProtocolError);
        assert.equal(end.event.error.code, "unexpected_end");
        assert.equal(
          end.event.error.message,
          `SOCKS5 proxy closed the connection before ${awaited}`,
        );
      });
    }

    it("sends nothing after a failure and refuses more bytes", () => {
      const handshake = new ClientHandshake(CONNECT_V4);
      handshake.start();
      const step = handshake.receive(new Uint8Array([0x05, 0xff, 0x05, 0x00]));
      assert.equal(step.send.length, 0);
      assert.equal(step.event.type, "failed");
      assert.throws(
        () => handshake.receive(new Uint8Array([0])),
        { message: "Cannot receive: the handshake has finished" },
      );
    });
  });

  describe("caller errors", () => {
    it("refuses bytes before start()", () => {
      assert.throws(
        () => new ClientHandshake(CONNECT_V4).receive(new Uint8Array([5, 0])),
        { message: "Cannot receive: the handshake has not started" },
      );
    });

    it("refuses a second start()", () => {
      const handshake = new ClientHandshake(CONNECT_V4);
      handshake.start();
      assert.throws(() => handshake.start(), {
        message: "Cannot start: the handshake has started",
      });
    });

    it("refuses bytes after established", () => {
      const handshake = new ClientHandshake(CONNECT_V4);
      handshake.start();
      handshake.receive(new Uint8Array([0x05, 0x00, ...REPLY_OK]));
      assert.throws(() => handshake.receive(new Uint8Array([1])), {
        message: "Cannot receive: the handshake has finished",
      });
      assert.throws(() => handshake.end(), {
        message: "Cannot end: the handshake is finished",
      });
    });

    it("throws in the constructor for a username of 256 bytes", () => {
      assert.throws(
        () =>
          new ClientHandshake({
            ...CONNECT_V4,
            credentials: { username: "u".repeat(256), password: "" },
          }),
        RangeError,
      );
    });

    it("throws in the constructor for port 70000", () => {
      assert.throws(
        () =>
          new ClientHandshake({
            command: 0x01,
            destination: { type: 0x01, host: "127.0.0.1", port: 70000 },
          }),
        RangeError,
      );
    });
  });
});
