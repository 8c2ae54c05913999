import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { connect } from "../../src/client/connect.ts";
import { SocksAuthError, SocksReplyError } from "../../src/client/errors.ts";
import { FakeNetwork } from "../_helpers/fake_network.ts";
import {
  bytes,
  readBytes,
  waitFor,
  within,
} from "../_helpers/memory_connection.ts";
import { answerHandshake, successReply } from "./_proxy_script.ts";

function proxyNetwork(): FakeNetwork {
  return new FakeNetwork()
    .onLookup("proxy.test", { addresses: ["10.0.0.1"] })
    .onLookup("example.test", { addresses: ["192.0.2.80"] })
    .onConnect("10.0.0.1", { type: "connect", buffer: 8 });
}

describe("connect() over a scripted network", () => {
  it("logs in, sends the name (socks5h), and streams both ways", async () => {
    const network = proxyNetwork();
    const opening = connect(
      "socks5h://alice:s3cret@proxy.test:1080",
      "example.test:443",
      { network },
    );
    const proxy = await waitFor(() => network.attempts[0]?.peer);
    const { heard } = await answerHandshake(proxy, {
      reply: bytes(successReply("10.0.0.1", 50000), "hello"),
    });
    assert.deepEqual(heard.greeting, [0x05, 0x02, 0x00, 0x02]);
    assert.deepEqual(heard.login, [
      1,
      5,
      ...bytes("alice"),
      6,
      ...bytes("s3cret"),
    ]);
    assert.deepEqual(heard.request, [
      0x05,
      0x01,
      0x00,
      0x03,
      12,
      ...bytes("example.test"),
      0x01,
      0xbb,
    ]);
    const tunnel = await within(opening, 1000, "connect()");
    assert.deepEqual(tunnel.bound, {
      type: 0x01,
      host: "10.0.0.1",
      port: 50000,
    });
    assert.deepEqual(
      network.lookups.map((l) => l.name),
      ["proxy.test"],
      "the destination name is left to the proxy",
    );
    const writer = tunnel.writable.getWriter();
    await writer.write(bytes("ping"));
    await writer.close();
    assert.deepEqual(await readBytes(proxy, 4), [...bytes("ping")]);
    assert.equal(await within(proxy.read(), 1000), null);
    await proxy.write(bytes(" world"));
    await proxy.closeWrite();
    const received: number[] = [];
    for await (const chunk of tunnel.readable) received.push(...chunk);
    assert.deepEqual(received, [...bytes("hello world")]);
    tunnel.close();
  });

  it("resolves the destination locally for socks5://", async () => {
    const network = proxyNetwork();
    const opening = connect(
      { host: "10.0.0.1", port: 1080, resolve: "local" },
      { host: "example.test", port: 80 },
      { network },
    );
    const proxy = await waitFor(() => network.attempts[0]?.peer);
    const { heard } = await answerHandshake(proxy);
    assert.deepEqual(heard.greeting, [0x05, 0x01, 0x00]);
    assert.equal(heard.login, null);
    assert.deepEqual(
      heard.request,
      [0x05, 0x01, 0x00, 0x01, 192, 0, 2, 80, 0, 80],
    );
    (await within(opening, 1000)).close();
  });

  it("rejects with the proxy's SocksReplyError and closes", async () => {
    const network = proxyNetwork();
    const opening = connect("socks5h://10.0.0.1", "[::1]:22", { network });
    const proxy = await waitFor(() => network.attempts[0]?.peer);
    const { heard } = await answerHandshake(proxy, {
      reply: bytes(0x05, 0x05, 0x00, 0x01, 0, 0, 0, 0, 0, 0),
    });
    assert.deepEqual(heard.request, [
      0x05,
      0x01,
      0x00,
      0x04,
      ...new Array(15).fill(0),
      1,
      0,
      22,
    ]);
    await assert.rejects(within(opening, 1000), (error: unknown) => {
      assert.ok(error instanceof SocksReplyError);
      assert.equal(error.reply, 5);
      return true;
    });
    assert.equal(network.attempts[0]!.conn!.closed, true);
  });

  it("rejects with a SocksAuthError when the login is refused", async () => {
    const network = proxyNetwork();
    const opening = connect("socks5h://bob:nope@10.0.0.1", "10.9.9.9:80", {
      network,
    });
    const proxy = await waitFor(() => network.attempts[0]?.peer);
    await readBytes(proxy, 4);
    await proxy.write(bytes(0x05, 0x02));
    assert.deepEqual(
      await readBytes(proxy, 10),
      [1, 3, ...bytes("bob"), 4, ...bytes("nope")],
    );
    await proxy.write(bytes(0x01, 0x01));
    await assert.rejects(
      within(opening, 1000),
      (error) => error instanceof SocksAuthError && error.status === 1,
    );
  });

  it("times out a proxy that never answers, with a TimeoutError", async () => {
    const network = proxyNetwork();
    const started = Date.now();
    await assert.rejects(
      within(
        connect("socks5h://10.0.0.1:1080", "10.9.9.9:80", {
          network,
          timeout: 50,
        }),
        2000,
      ),
      {
        name: "TimeoutError",
        message:
          "Cannot finish the SOCKS5 handshake with 10.0.0.1: timed out after 50 ms",
      },
    );
    assert.ok(Date.now() - started >= 45);
    assert.equal(network.attempts[0]!.conn!.closed, true);
  });

  it("rejects with the signal's reason and closes", async () => {
    const network = proxyNetwork();
    const controller = new AbortController();
    const opening = connect("socks5h://10.0.0.1", "10.9.9.9:80", {
      network,
      signal: controller.signal,
    });
    const proxy = await waitFor(() => network.attempts[0]?.peer);
    await readBytes(proxy, 3);
    const reason = new Error("user gave up");
    controller.abort(reason);
    await assert.rejects(within(opening, 1000), (error) => error === reason);
    assert.equal(network.attempts[0]!.conn!.closed, true);
  });

  it("throws a TypeError for a bad proxy URL or destination", async () => {
    await assert.rejects(connect("http://10.0.0.1", "10.9.9.9:80"), {
      name: "TypeError",
      message: 'Cannot parse proxy URL: scheme "http" is not socks5 or socks5h',
    });
    await assert.rejects(connect("socks5h://10.0.0.1", "10.9.9.9"), {
      name: "TypeError",
      message:
        'Cannot parse address: "10.9.9.9" is not HOST:PORT or [IPV6]:PORT',
    });
  });
});
