import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import * as dgram from "node:dgram";
import * as net from "node:net";
import { after, before, describe, it } from "node:test";
import {
  bind,
  connect,
  connectNative,
  SocksAuthError,
  type SocksConnection,
  SocksReplyError,
  udpAssociate,
} from "../../src/client/mod.ts";
import { runtimeNetwork } from "../../src/net/runtime_network.ts";
import { startBulkServer } from "../_helpers/e2e/bulk.ts";
import { refusedPort } from "../_helpers/e2e/free_port.ts";
import {
  type Microsocks,
  requireMicrosocks,
  startMicrosocks,
} from "../_helpers/e2e/microsocks.ts";
import {
  closeNative,
  endNative,
  NativeReader,
  writeNative,
} from "../_helpers/e2e/native_socket.ts";
import { type Proxy, startProxy } from "../_helpers/e2e/proxy.ts";
import { RawSocket } from "../_helpers/e2e/raw_socket.ts";
import type { Endpoint } from "../_helpers/e2e/socks_raw.ts";
import {
  listenTcp,
  startEchoServer,
  type TcpServer,
} from "../_helpers/e2e/tcp_server.ts";
import { eventually, withTimeout } from "../_helpers/e2e/with_timeout.ts";
import { runtimeName } from "../_helpers/runtime.ts";

const alice = { username: "alice", password: "s3cret" };
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const BANNER = "220 banner sent on accept\r\n";

function url(proxy: Endpoint, options: { h?: boolean; login?: string } = {}) {
  const host = proxy.host.includes(":") ? `[${proxy.host}]` : proxy.host;
  const login = options.login === undefined ? "" : `${options.login}@`;
  return `socks5${
    options.h === false ? "" : "h"
  }://${login}${host}:${proxy.port}`;
}

function target(server: Endpoint): string {
  return server.host.includes(":")
    ? `[${server.host}]:${server.port}`
    : `${server.host}:${server.port}`;
}

// Sends `text` through the tunnel, half-closes, and reads to the end: an
// echo gives the text back.
async function roundTrip(tunnel: SocksConnection, text: string) {
  const writer = tunnel.writable.getWriter();
  await withTimeout(writer.write(encoder.encode(text)), 5_000, "writing");
  await withTimeout(writer.close(), 5_000, "half-closing");
  let received = "";
  const reading = (async () => {
    for await (const chunk of tunnel.readable) {
      received += decoder.decode(chunk, { stream: true });
    }
  })();
  await withTimeout(reading, 5_000, "reading to the end");
  return received;
}

// Sends `text` and reads its echo, without a half-close: microsocks closes
// both directions as soon as one side sends FIN.
async function echoBack(tunnel: SocksConnection, text: string) {
  const writer = tunnel.writable.getWriter();
  await withTimeout(writer.write(encoder.encode(text)), 5_000, "writing");
  writer.releaseLock();
  const reader = tunnel.readable.getReader();
  let received = "";
  // Bounded: each read brings at least one byte, or ends the loop.
  while (received.length < text.length) {
    const { value, done } = await withTimeout(reader.read(), 5_000, "echo");
    if (done) break;
    received += decoder.decode(value, { stream: true });
  }
  reader.releaseLock();
  return received;
}

// Sends a banner as soon as it accepts, then echoes, then ends.
function startBannerServer(): Promise<TcpServer> {
  return listenTcp("127.0.0.1", (raw) => {
    void raw.write(BANNER);
    raw.stream((chunk) => raw.socket.write(chunk));
    raw.ended(30_000).then(() => raw.socket.end(), () => raw.destroy());
  });
}

// A SOCKS5 server of a few lines that writes its reply and the banner in
// one write, so they reach the client in one chunk.
function startEagerProxy(): Promise<TcpServer> {
  return listenTcp("127.0.0.1", (raw) => {
    void (async () => {
      await raw.read(3);
      await raw.write(new Uint8Array([0x05, 0x00]));
      await raw.read(10);
      const reply = [0x05, 0x00, 0x00, 0x01, 127, 0, 0, 1, 0x30, 0x39];
      await raw.write(new Uint8Array([...reply, ...encoder.encode(BANNER)]));
      await raw.end();
    })().catch(() => raw.destroy());
  });
}

describe("the client against edgesocks", () => {
  let echo: TcpServer;
  let echo6: TcpServer;
  let open: Proxy;
  let open6: Endpoint;
  let login: Proxy;
  let loose: Proxy;

  before(async () => {
    echo = await startEchoServer("127.0.0.1");
    echo6 = await startEchoServer("::1");
    open = await startProxy({ listen: ["127.0.0.1:0", "[::1]:0"] });
    open6 = open.server.addresses[1]!;
    login = await startProxy({ users: { alice: alice.password } });
    loose = await startProxy({ bindWithoutSession: true });
  });

  after(async () => {
    await open?.server.close({ gracePeriod: 0 });
    await login?.server.close({ gracePeriod: 0 });
    await loose?.server.close({ gracePeriod: 0 });
    await echo?.close();
    await echo6?.close();
  });

  it("connects by IPv4 and relays both ways with a half-close", async () => {
    const tunnel = await connect(url(open.endpoint), target(echo));
    try {
      assert.equal(tunnel.bound.type, 0x01);
      assert.equal(tunnel.bound.host, "127.0.0.1");
      assert.ok(tunnel.bound.port > 0);
      assert.equal(await roundTrip(tunnel, "over IPv4"), "over IPv4");
    } finally {
      tunnel.close();
    }
  });

  it("moves 10 MB each way through the streams with matching sha256", async () => {
    const size = 10 * 1024 * 1024;
    // The bulk server sends as soon as it accepts: its first bytes may
    // share a chunk with the proxy's reply.
    const bulk = await startBulkServer("127.0.0.1", size);
    try {
      const tunnel = await connect(url(open.endpoint), target(bulk));
      try {
        const receivedHash = createHash("sha256");
        let received = 0;
        const reading = (async () => {
          for await (const chunk of tunnel.readable) {
            receivedHash.update(chunk);
            received += chunk.length;
          }
        })();
        const sentHash = createHash("sha256");
        const writer = tunnel.writable.getWriter();
        // Bounded: size / 64 KiB writes.
        for (let sent = 0; sent < size;) {
          const chunk = randomBytes(Math.min(64 * 1024, size - sent));
          sentHash.update(chunk);
          await withTimeout(writer.write(chunk), 10_000, "writing");
          sent += chunk.length;
        }
        // FIN only after the peer's bytes are in (see bulk.ts).
        await eventually(() => received >= size, 20_000, "10 MB down");
        await writer.close();
        await withTimeout(reading, 10_000, "the destination's FIN");
        const server = await withTimeout(
          bulk.transfers[0]!,
          10_000,
          "the destination's side",
        );
        assert.equal(received, size);
        assert.equal(server.received, size);
        assert.equal(receivedHash.digest("hex"), server.sentSha256);
        assert.equal(server.receivedSha256, sentHash.digest("hex"));
      } finally {
        tunnel.close();
      }
    } finally {
      await bulk.close();
    }
  });

  it("connects to IPv6 through a proxy on IPv6", async () => {
    const tunnel = await connect(url(open6), target(echo6));
    try {
      assert.deepEqual(
        [tunnel.bound.type, tunnel.bound.host],
        [0x04, "::1"],
      );
      assert.equal(await roundTrip(tunnel, "over IPv6"), "over IPv6");
    } finally {
      tunnel.close();
    }
  });

  it("connects by name, resolved by the proxy (socks5h)", async () => {
    // The proxy tries every address of localhost, so either family works.
    const tunnel = await connect(url(open.endpoint), `localhost:${echo.port}`);
    try {
      assert.equal(await roundTrip(tunnel, "by name"), "by name");
    } finally {
      tunnel.close();
    }
    await open.logger.waitFor(
      (r) => r.msg === "access" && r.destination === `localhost:${echo.port}`,
      5_000,
      "the access record naming localhost",
    );
  });

  it("connects by name, resolved here first (socks5)", async () => {
    const [first] = await (await runtimeNetwork()).lookup("localhost");
    assert.ok(first !== undefined, "localhost resolves");
    const server = first.includes(":") ? echo6 : echo;
    const tunnel = await connect(
      url(open.endpoint, { h: false }),
      `localhost:${server.port}`,
    );
    try {
      assert.equal(await roundTrip(tunnel, "resolved here"), "resolved here");
    } finally {
      tunnel.close();
    }
    await open.logger.waitFor(
      (r) =>
        r.msg === "access" &&
        r.destination === target({ ...server, host: first }),
      5_000,
      "the access record naming the address",
    );
  });

  it("logs in with username and password", async () => {
    const tunnel = await connect(
      url(login.endpoint, { login: "alice:s3cret" }),
      target(echo),
    );
    try {
      assert.equal(await roundTrip(tunnel, "logged in"), "logged in");
    } finally {
      tunnel.close();
    }
    await login.logger.waitFor(
      (r) => r.msg === "access" && r.user === "alice",
      5_000,
      "alice's access record",
    );
  });

  it("rejects a wrong password with a SocksAuthError", async () => {
    await assert.rejects(
      connect(url(login.endpoint, { login: "alice:wrong" }), target(echo)),
      (error: unknown) => {
        assert.ok(error instanceof SocksAuthError);
        assert.equal(error.reason, "login_refused");
        assert.equal(error.status, 1);
        return true;
      },
    );
  });

  it("rejects with a SocksAuthError when login is required but not given", async () => {
    await assert.rejects(
      connect(url(login.endpoint), target(echo)),
      (error: unknown) =>
        error instanceof SocksAuthError &&
        error.reason === "no_acceptable_method",
    );
  });

  it("rejects a refused port with SocksReplyError reply 5", async () => {
    const port = await refusedPort();
    await assert.rejects(
      connect(url(open.endpoint), `127.0.0.1:${port}`),
      (error: unknown) => {
        assert.ok(error instanceof SocksReplyError);
        assert.equal(error.reply, 5);
        assert.equal(
          error.message,
          "SOCKS5 proxy replied 0x05: connection refused",
        );
        return true;
      },
    );
  });

  it(`connectNative() gives a ${runtimeName === "deno" ? "Deno.Conn" : "net.Socket"} with a banner sent on accept intact`, async () => {
    const banner = await startBannerServer();
    try {
      const socket = await connectNative(url(open.endpoint), target(banner));
      try {
        if (runtimeName === "deno") assert.ok(!(socket instanceof net.Socket));
        else assert.ok(socket instanceof net.Socket);
        const reader = new NativeReader(socket);
        assert.equal(decoder.decode(await reader.bytes(BANNER.length)), BANNER);
        await writeNative(socket, encoder.encode("echoed"));
        await endNative(socket);
        assert.equal(decoder.decode(await reader.toEnd()), "echoed");
      } finally {
        closeNative(socket);
      }
    } finally {
      await banner.close();
    }
  });

  it("connectNative() keeps data that arrives in the reply's chunk", async () => {
    const eager = await startEagerProxy();
    try {
      const socket = await connectNative(url(eager), "127.0.0.1:9");
      try {
        const received = await new NativeReader(socket).toEnd();
        assert.equal(decoder.decode(received), BANNER);
      } finally {
        closeNative(socket);
      }
    } finally {
      await eager.close();
    }
  });

  it("connect() keeps data that arrives in the reply's chunk", async () => {
    const eager = await startEagerProxy();
    try {
      const tunnel = await connect(url(eager), "127.0.0.1:9");
      try {
        assert.deepEqual(tunnel.bound, {
          type: 0x01,
          host: "127.0.0.1",
          port: 12345,
        });
        let received = "";
        for await (const chunk of tunnel.readable) {
          received += decoder.decode(chunk);
        }
        assert.equal(received, BANNER);
      } finally {
        tunnel.close();
      }
    } finally {
      await eager.close();
    }
  });

  it("bind() waits for the peer, then relays both ways", async () => {
    const listening = await bind(url(loose.endpoint), "127.0.0.1:0");
    let far: RawSocket | undefined;
    try {
      assert.equal(listening.bound.host, "127.0.0.1");
      assert.ok(listening.bound.port > 0);
      far = await RawSocket.connect("127.0.0.1", listening.bound.port);
      const tunnel = await withTimeout(
        listening.accepted,
        5_000,
        "the second reply",
      );
      assert.deepEqual(tunnel.bound, {
        type: 0x01,
        host: "127.0.0.1",
        port: far.localPort,
      });
      await far.write("from the far side");
      const reader = tunnel.readable.getReader();
      let down = "";
      while (down.length < "from the far side".length) {
        const { value, done } = await withTimeout(reader.read(), 5_000, "down");
        if (done) break;
        down += decoder.decode(value);
      }
      assert.equal(down, "from the far side");
      reader.releaseLock();
      const writer = tunnel.writable.getWriter();
      await writer.write(encoder.encode("from the client"));
      assert.equal(decoder.decode(await far.read(15)), "from the client");
      await writer.close();
      assert.deepEqual(await far.ended(), { error: null });
    } finally {
      far?.destroy();
      listening.close();
    }
  });

  it("udpAssociate() sends through the relay and receives the answer", async () => {
    const echoUdp = dgram.createSocket("udp4");
    echoUdp.on("message", (message, remote) => {
      echoUdp.send(message, remote.port, remote.address);
    });
    await new Promise<void>((resolve) =>
      echoUdp.bind(0, "127.0.0.1", () => resolve())
    );
    const echoPort = echoUdp.address().port;
    const udp = await udpAssociate(url(open.endpoint));
    try {
      assert.equal(udp.relay.host, "127.0.0.1");
      assert.equal(udp.address.host, "127.0.0.1");
      const iterator = udp[Symbol.asyncIterator]();
      for (const text of ["one", "two"]) {
        await udp.send(encoder.encode(text), `127.0.0.1:${echoPort}`);
        const { value, done } = await withTimeout(
          iterator.next(),
          5_000,
          `the echo of ${text}`,
        );
        assert.equal(done, false);
        assert.deepEqual(
          { ...value, data: decoder.decode(value!.data) },
          { host: "127.0.0.1", port: echoPort, data: text },
        );
      }
      assert.equal(udp.dropped, 0);
    } finally {
      udp.close();
      await withTimeout(udp.closed, 5_000, "the association to end");
      echoUdp.close();
    }
  });
});

describe("the client against microsocks", () => {
  let echo: TcpServer;
  let plain: Microsocks | undefined;
  let guarded: Microsocks | undefined;

  before(async () => {
    echo = await startEchoServer("127.0.0.1");
  });

  after(async () => {
    await plain?.stop();
    await guarded?.stop();
    await echo?.close();
  });

  async function plainProxy(): Promise<Endpoint> {
    plain ??= await startMicrosocks();
    return plain.endpoint;
  }

  async function guardedProxy(): Promise<Endpoint> {
    guarded ??= await startMicrosocks(alice);
    return guarded.endpoint;
  }

  it("connects by IPv4", async (t) => {
    if (!requireMicrosocks(t)) return;
    const tunnel = await connect(url(await plainProxy()), target(echo));
    try {
      assert.equal(await echoBack(tunnel, "via microsocks"), "via microsocks");
    } finally {
      tunnel.close();
    }
  });

  it("connects by name, resolved by microsocks", async (t) => {
    if (!requireMicrosocks(t)) return;
    const [first] = await (await runtimeNetwork()).lookup("localhost");
    if (first?.includes(":")) {
      // microsocks tries only the first address getaddrinfo gives.
      t.skip("localhost resolves to IPv6 first; the echo server is IPv4");
      return;
    }
    const tunnel = await connect(
      url(await plainProxy()),
      `localhost:${echo.port}`,
    );
    try {
      assert.equal(await echoBack(tunnel, "by name"), "by name");
    } finally {
      tunnel.close();
    }
  });

  it("logs in with username and password", async (t) => {
    if (!requireMicrosocks(t)) return;
    const tunnel = await connect(
      url(await guardedProxy(), { login: "alice:s3cret" }),
      target(echo),
    );
    try {
      assert.equal(await echoBack(tunnel, "logged in"), "logged in");
    } finally {
      tunnel.close();
    }
  });

  it("rejects a wrong password with a SocksAuthError", async (t) => {
    if (!requireMicrosocks(t)) return;
    await assert.rejects(
      connect(
        url(await guardedProxy(), { login: "alice:wrong" }),
        target(echo),
      ),
      (error: unknown) =>
        error instanceof SocksAuthError && error.reason === "login_refused",
    );
  });

  it("rejects without credentials with a SocksAuthError", async (t) => {
    if (!requireMicrosocks(t)) return;
    await assert.rejects(
      connect(url(await guardedProxy()), target(echo)),
      (error: unknown) =>
        error instanceof SocksAuthError &&
        error.reason === "no_acceptable_method",
    );
  });

  it("rejects a refused port with SocksReplyError reply 5", async (t) => {
    if (!requireMicrosocks(t)) return;
    const port = await refusedPort();
    await assert.rejects(
      connect(url(await plainProxy()), `127.0.0.1:${port}`),
      (error: unknown) => error instanceof SocksReplyError && error.reply === 5,
    );
  });

  it("connectNative() keeps a banner sent on accept", async (t) => {
    if (!requireMicrosocks(t)) return;
    const banner = await startBannerServer();
    try {
      const socket = await connectNative(
        url(await plainProxy()),
        target(banner),
      );
      try {
        const reader = new NativeReader(socket);
        assert.equal(decoder.decode(await reader.bytes(BANNER.length)), BANNER);
        await writeNative(socket, encoder.encode("!"));
        assert.equal(decoder.decode(await reader.bytes(1)), "!");
      } finally {
        closeNative(socket);
      }
    } finally {
      await banner.close();
    }
  });
});
