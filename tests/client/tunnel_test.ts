import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { SocksReplyError } from "../../src/client/errors.ts";
import {
  dialProxy,
  openTunnel,
  requestAddress,
} from "../../src/client/tunnel.ts";
import { errnoError, FakeNetwork } from "../_helpers/fake_network.ts";
import {
  bytes,
  readBytes,
  waitFor,
  within,
} from "../_helpers/memory_connection.ts";

describe("dialProxy()", () => {
  it("connects to an IP address without a lookup", async () => {
    const network = new FakeNetwork().onConnect("::1", { type: "connect" });
    const conn = await dialProxy(network, { host: "::1", port: 1080 });
    assert.deepEqual(conn.remoteAddress, { host: "::1", port: 1080 });
    assert.deepEqual(network.lookups, []);
    conn.close();
  });

  it("resolves a name and tries its addresses in order until one connects", async () => {
    const network = new FakeNetwork()
      .onLookup("proxy.test", { addresses: ["10.0.0.1", "10.0.0.2"] })
      .onConnect("10.0.0.1", {
        type: "fail",
        error: errnoError("ECONNREFUSED"),
      })
      .onConnect("10.0.0.2", { type: "connect" });
    const conn = await dialProxy(network, { host: "proxy.test", port: 1080 });
    assert.deepEqual(
      network.attempts.map((a) => [a.host, a.port, a.outcome]),
      [["10.0.0.1", 1080, "failed"], ["10.0.0.2", 1080, "connected"]],
    );
    conn.close();
  });

  it("rejects with the last error when no address connects", async () => {
    const network = new FakeNetwork()
      .onLookup("proxy.test", { addresses: ["10.0.0.1", "10.0.0.2"] })
      .onConnect("10.0.0.1", {
        type: "fail",
        error: errnoError("EHOSTUNREACH"),
      })
      .onConnect("10.0.0.2", {
        type: "fail",
        error: errnoError("ECONNREFUSED"),
      });
    await assert.rejects(
      dialProxy(network, { host: "proxy.test", port: 1080 }),
      { code: "ECONNREFUSED" },
    );
  });

  it("rejects naming the proxy when its name has no addresses", async () => {
    const network = new FakeNetwork().onLookup("proxy.test", { addresses: [] });
    await assert.rejects(
      dialProxy(network, { host: "proxy.test", port: 1080 }),
      {
        message:
          "Cannot reach SOCKS5 proxy proxy.test:1080: it has no addresses",
      },
    );
  });

  it("rejects with the signal's reason while the lookup is pending", async () => {
    const network = new FakeNetwork().onLookup("proxy.test", {
      addresses: ["10.0.0.1"],
      after: 300,
    });
    const controller = new AbortController();
    const dialling = dialProxy(
      network,
      { host: "proxy.test", port: 1080 },
      { signal: controller.signal },
    );
    const reason = new Error("give up");
    controller.abort(reason);
    await assert.rejects(within(dialling, 1000), (error) => error === reason);
    assert.deepEqual(network.attempts, []);
  });
});

describe("requestAddress()", () => {
  const network = new FakeNetwork().onLookup("example.test", {
    addresses: ["2001:db8::5", "192.0.2.5"],
  });

  it("keeps a name for a proxy that resolves (socks5h)", async () => {
    assert.deepEqual(
      await requestAddress(network, { host: "p", port: 1, resolve: "proxy" }, {
        host: "example.test",
        port: 80,
      }),
      { type: 0x03, host: "example.test", port: 80 },
    );
  });

  it("keeps a name when resolve is not given", async () => {
    assert.deepEqual(
      await requestAddress(network, { host: "p", port: 1 }, {
        host: "example.test",
        port: 80,
      }),
      { type: 0x03, host: "example.test", port: 80 },
    );
  });

  it("resolves a name locally to its first address (socks5)", async () => {
    assert.deepEqual(
      await requestAddress(network, { host: "p", port: 1, resolve: "local" }, {
        host: "example.test",
        port: 80,
      }),
      { type: 0x04, host: "2001:db8::5", port: 80 },
    );
  });

  it("passes IP addresses through, canonical", async () => {
    assert.deepEqual(
      await requestAddress(network, { host: "p", port: 1, resolve: "local" }, {
        host: "::ffff:127.0.0.1",
        port: 8,
      }),
      { type: 0x01, host: "127.0.0.1", port: 8 },
    );
  });

  it("rejects a local name without addresses", async () => {
    const empty = new FakeNetwork().onLookup("nowhere.test", { addresses: [] });
    await assert.rejects(
      requestAddress(empty, { host: "p", port: 1, resolve: "local" }, {
        host: "nowhere.test",
        port: 80,
      }),
      { message: "Cannot resolve nowhere.test: it has no addresses" },
    );
  });
});

describe("openTunnel()", () => {
  it("closes the connection to the proxy when the request fails", async () => {
    const network = new FakeNetwork().onConnect("10.0.0.1", {
      type: "connect",
    });
    const opening = openTunnel(network, { host: "10.0.0.1", port: 1080 }, {
      command: 0x01,
      destination: { host: "192.0.2.1", port: 25 },
    });
    const proxy = await waitFor(() => network.attempts[0]?.peer);
    assert.deepEqual(await readBytes(proxy, 3), [0x05, 0x01, 0x00]);
    await proxy.write(bytes(0x05, 0x00));
    assert.deepEqual(
      await readBytes(proxy, 10),
      [0x05, 0x01, 0x00, 0x01, 192, 0, 2, 1, 0, 25],
    );
    await proxy.write(bytes(0x05, 0x02, 0x00, 0x01, 0, 0, 0, 0, 0, 0));
    await assert.rejects(
      within(opening, 1000),
      (error) => error instanceof SocksReplyError && error.reply === 2,
    );
    assert.equal(network.attempts[0]!.conn!.closed, true);
  });

  it("resolves after the first reply with the connection still open", async () => {
    const network = new FakeNetwork().onConnect("10.0.0.1", {
      type: "connect",
    });
    const opening = openTunnel(network, { host: "10.0.0.1", port: 1080 }, {
      command: 0x02,
      destination: { host: "0.0.0.0", port: 0 },
    });
    const proxy = await waitFor(() => network.attempts[0]?.peer);
    await readBytes(proxy, 3);
    await proxy.write(bytes(0x05, 0x00));
    await readBytes(proxy, 10);
    await proxy.write(bytes(0x05, 0x00, 0x00, 0x01, 10, 0, 0, 1, 0x04, 0x00));
    const tunnel = await within(opening, 1000);
    assert.equal(tunnel.outcome.type, "bound");
    assert.deepEqual(tunnel.outcome.reply.bound, {
      type: 0x01,
      host: "10.0.0.1",
      port: 1024,
    });
    assert.equal(network.attempts[0]!.conn!.closed, false);
    tunnel.connection.close();
  });
});
