import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { assertServes, type Proxy, startProxy } from "../_helpers/e2e/proxy.ts";
import { RawSocket } from "../_helpers/e2e/raw_socket.ts";
import {
  type Endpoint,
  failureReply,
  greeting,
  readReply,
  request,
  userPass,
} from "../_helpers/e2e/socks_raw.ts";
import { connectFrom } from "../_helpers/e2e/socks_session.ts";
import { startEchoServer, type TcpServer } from "../_helpers/e2e/tcp_server.ts";
import { delay, eventually } from "../_helpers/e2e/with_timeout.ts";

const alice = { username: "alice", password: "s3cret" };

// Sends `bytes` in one write and returns everything the server sent up to
// its FIN: the exact reply of a handshake that must fail.
async function answerTo(proxy: Endpoint, bytes: Uint8Array) {
  const raw = await RawSocket.connect(proxy.host, proxy.port);
  try {
    await raw.write(bytes);
    return await raw.readToEnd();
  } finally {
    raw.destroy();
  }
}

async function handshakeFailure(proxy: Proxy, reason: string) {
  return await proxy.logger.waitFor(
    (r) => r.msg === "handshake failed" && r.reason === reason,
    5_000,
    `a handshake failed record with reason ${reason}`,
  );
}

describe("robustness against broken and hostile clients", () => {
  let echo: TcpServer;
  let open: Proxy;
  let login: Proxy;

  before(async () => {
    echo = await startEchoServer("127.0.0.1");
    open = await startProxy({});
    login = await startProxy({ users: { alice: "s3cret" } });
  });

  after(async () => {
    await open?.server.close({ gracePeriod: 0 });
    await login?.server.close({ gracePeriod: 0 });
    await echo?.close();
  });

  it("closes on an HTTP request without sending a byte", async () => {
    const http = new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    const raw = await RawSocket.connect("127.0.0.1", open.endpoint.port);
    try {
      await raw.write(http);
      // The server may close with bytes unread, which resets: either way it
      // must have sent nothing.
      await raw.ended();
      assert.equal(raw.received, 0);
    } finally {
      raw.destroy();
    }
    await handshakeFailure(open, "protocol_error");
    await assertServes(open.endpoint, echo);
  });

  it("closes on random bytes without sending a byte", async () => {
    const garbage = randomBytes(64);
    garbage[0] = 0x16; // a TLS record, never 0x04 or 0x05
    const raw = await RawSocket.connect("127.0.0.1", open.endpoint.port);
    try {
      await raw.write(garbage);
      await raw.ended();
      assert.equal(raw.received, 0);
    } finally {
      raw.destroy();
    }
    await assertServes(open.endpoint, echo);
  });

  it("answers a SOCKS4 request with the SOCKS4 reject, then closes", async () => {
    const socks4 = new Uint8Array([0x04, 0x01, 0x00, 0x50, 127, 0, 0, 1, 0x00]);
    assert.deepEqual(
      await answerTo(open.endpoint, socks4),
      new Uint8Array([0x00, 0x5b, 0, 0, 0, 0, 0, 0]),
    );
    await handshakeFailure(open, "socks4");
    await assertServes(open.endpoint, echo);
  });

  it("answers a greeting with NMETHODS 0 with 05 FF, then closes", async () => {
    assert.deepEqual(
      await answerTo(open.endpoint, new Uint8Array([0x05, 0x00])),
      new Uint8Array([0x05, 0xff]),
    );
    await assertServes(open.endpoint, echo);
  });

  it("answers 05 FF when login is required and only 00 is offered, then closes", async () => {
    assert.deepEqual(
      await answerTo(login.endpoint, greeting([0x00])),
      new Uint8Array([0x05, 0xff]),
    );
    await handshakeFailure(login, "no_acceptable_method");
    await assertServes(login.endpoint, echo, alice);
  });

  it("answers command 0x09 with 05 07 00 01 0…0, then closes", async () => {
    const raw = await RawSocket.connect("127.0.0.1", open.endpoint.port);
    try {
      await raw.write(greeting([0x00]));
      assert.deepEqual(await raw.read(2), new Uint8Array([0x05, 0x00]));
      await raw.write(request({ host: "127.0.0.1", port: echo.port }, 0x09));
      assert.deepEqual(await raw.readToEnd(), failureReply(0x07));
    } finally {
      raw.destroy();
    }
    await assertServes(open.endpoint, echo);
  });

  it("answers address type 0x05 with 05 08 00 01 0…0, then closes", async () => {
    const raw = await RawSocket.connect("127.0.0.1", open.endpoint.port);
    try {
      await raw.write(greeting([0x00]));
      assert.deepEqual(await raw.read(2), new Uint8Array([0x05, 0x00]));
      await raw.write(
        new Uint8Array([0x05, 0x01, 0x00, 0x05, 127, 0, 0, 1, 0x00, 0x50]),
      );
      assert.deepEqual(await raw.readToEnd(), failureReply(0x08));
    } finally {
      raw.destroy();
    }
    await assertServes(open.endpoint, echo);
  });

  it("closes quietly when the client half-closes in the middle of a frame", async () => {
    const cases: { proxy: Proxy; bytes: number[]; answer: number[] }[] = [
      { proxy: open, bytes: [0x05], answer: [] },
      { proxy: open, bytes: [0x05, 0x02, 0x00], answer: [] },
      {
        proxy: open,
        bytes: [0x05, 0x01, 0x00, 0x05, 0x01, 0x00, 0x01, 127, 0],
        answer: [0x05, 0x00],
      },
      {
        proxy: open,
        bytes: [0x05, 0x01, 0x00, 0x05, 0x01, 0x00, 0x03, 9, 0x6c, 0x6f],
        answer: [0x05, 0x00],
      },
      {
        proxy: login,
        bytes: [0x05, 0x01, 0x02, 0x01, 0x05, 0x61, 0x6c],
        answer: [0x05, 0x02],
      },
    ];
    for (const { proxy, bytes, answer } of cases) {
      const raw = await RawSocket.connect("127.0.0.1", proxy.endpoint.port);
      try {
        await raw.write(new Uint8Array(bytes));
        await raw.end();
        assert.deepEqual(await raw.readToEnd(), new Uint8Array(answer));
      } finally {
        raw.destroy();
      }
    }
    await eventually(
      () => open.server.connectionCount === 0,
      2_000,
      "the truncated clients to be gone",
    );
    await assertServes(open.endpoint, echo);
    await assertServes(login.endpoint, echo, alice);
  });

  it("survives clients that vanish abruptly mid-frame", async () => {
    const frames = [[0x05], [0x05, 0x01], [0x05, 0x01, 0x00, 0x05, 0x01]];
    for (const frame of frames) {
      const raw = await RawSocket.connect("127.0.0.1", open.endpoint.port);
      await raw.write(new Uint8Array(frame));
      raw.destroy();
    }
    await eventually(
      () => open.server.connectionCount === 0,
      2_000,
      "the vanished clients to be gone",
    );
    await assertServes(open.endpoint, echo);
  });

  it("completes a login and a CONNECT sent one byte at a time", async () => {
    const handshake = [
      ...greeting([0x02]),
      ...userPass(alice),
      ...request({ host: "127.0.0.1", port: echo.port }),
    ];
    const payload = [...new TextEncoder().encode("drip")];
    const raw = await RawSocket.connect("127.0.0.1", login.endpoint.port);
    try {
      // Bounded: 27 handshake bytes and 4 payload bytes.
      for (const byte of [...handshake, ...payload]) {
        await raw.write(new Uint8Array([byte]));
        await delay(2);
      }
      assert.deepEqual(await raw.read(2), new Uint8Array([0x05, 0x02]));
      assert.deepEqual(await raw.read(2), new Uint8Array([0x01, 0x00]));
      assert.equal((await readReply(raw)).reply, 0x00);
      assert.deepEqual(await raw.read(payload.length), new Uint8Array(payload));
    } finally {
      raw.destroy();
    }
    await assertServes(login.endpoint, echo, alice);
  });

  it("closes a client that stays silent past handshakeTimeout", async () => {
    const quick = await startProxy({ handshakeTimeout: 300 });
    try {
      const silent = await RawSocket.connect("127.0.0.1", quick.endpoint.port);
      const started = Date.now();
      // One that got its method selection and then stalls, too.
      const stalled = await RawSocket.connect("127.0.0.1", quick.endpoint.port);
      try {
        await stalled.write(greeting([0x00]));
        assert.deepEqual(await stalled.read(2), new Uint8Array([0x05, 0x00]));
        assert.deepEqual(await silent.readToEnd(3_000), new Uint8Array(0));
        const elapsed = Date.now() - started;
        assert.ok(elapsed >= 250, `closed after ${elapsed} ms, not ~300`);
        assert.ok(elapsed < 2_000, `closed after ${elapsed} ms, not ~300`);
        assert.deepEqual(await stalled.readToEnd(3_000), new Uint8Array(0));
      } finally {
        silent.destroy();
        stalled.destroy();
      }
      const timedOut = quick.logger.named("handshake timed out");
      assert.equal(timedOut.length, 2);
      await assertServes(quick.endpoint, echo);
    } finally {
      await quick.server.close({ gracePeriod: 0 });
    }
  });

  it("serves a new client while 200 handshakes stall", async () => {
    const stalled: RawSocket[] = [];
    try {
      // Bounded: 4 batches of 50, each from its own address, as one
      // address may hold only 64 handshake slots.
      for (let batch = 0; batch < 4; batch++) {
        const opened = await Promise.all(
          Array.from(
            { length: 50 },
            () => connectFrom(open.endpoint, `127.0.0.${2 + batch}`),
          ),
        );
        stalled.push(...opened);
        await Promise.all(opened.map((raw) => raw.write(new Uint8Array([5]))));
      }
      await eventually(
        () => open.server.connectionCount >= 200,
        5_000,
        `200 stalled clients to be accepted (${open.server.connectionCount})`,
      );
      const started = Date.now();
      await assertServes(open.endpoint, echo);
      const elapsed = Date.now() - started;
      assert.ok(elapsed < 2_000, `a CONNECT took ${elapsed} ms`);
      assert.ok(
        stalled.every((raw) => raw.ending === null && raw.received === 0),
        "the stalled clients are still open, with nothing sent to them",
      );
    } finally {
      for (const raw of stalled) raw.destroy();
    }
    await eventually(
      () => open.server.connectionCount === 0,
      5_000,
      "the stalled clients to be gone",
    );
    await assertServes(open.endpoint, echo);
  });
});
