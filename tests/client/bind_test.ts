import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { bind } from "../../src/client/bind.ts";
import { SocksReplyError } from "../../src/client/errors.ts";
import { FakeNetwork } from "../_helpers/fake_network.ts";
import { bytes, waitFor, within } from "../_helpers/memory_connection.ts";
import { answerHandshake, successReply } from "./_proxy_script.ts";

function proxyNetwork(): FakeNetwork {
  return new FakeNetwork().onConnect("10.0.0.1", {
    type: "connect",
    buffer: 8,
  });
}

describe("bind() over a scripted network", () => {
  it("resolves at the first reply, then accepts with the second", async () => {
    const network = proxyNetwork();
    const opening = bind("socks5h://10.0.0.1", "192.0.2.9:0", { network });
    const proxy = await waitFor(() => network.attempts[0]?.peer);
    const { heard } = await answerHandshake(proxy, {
      reply: successReply("10.0.0.1", 6000),
    });
    assert.deepEqual(
      heard.request,
      [0x05, 0x02, 0x00, 0x01, 192, 0, 2, 9, 0, 0],
    );
    const listening = await within(opening, 1000, "the first reply");
    assert.deepEqual(listening.bound, {
      type: 0x01,
      host: "10.0.0.1",
      port: 6000,
    });
    // The second reply and the peer's first bytes in one chunk.
    await proxy.write(bytes(successReply("192.0.2.9", 7777), "hi"));
    const tunnel = await within(listening.accepted, 1000, "the peer");
    assert.deepEqual(tunnel.bound, {
      type: 0x01,
      host: "192.0.2.9",
      port: 7777,
    });
    assert.deepEqual([...(await tunnel.connection.read())!], [...bytes("hi")]);
    listening.close();
    assert.equal(network.attempts[0]!.conn!.closed, true);
  });

  it("rejects accepted with the proxy's failed second reply", async () => {
    const network = proxyNetwork();
    const opening = bind("socks5h://10.0.0.1", "0.0.0.0:0", { network });
    const proxy = await waitFor(() => network.attempts[0]?.peer);
    await answerHandshake(proxy);
    const listening = await within(opening, 1000);
    await proxy.write(bytes(0x05, 0x06, 0x00, 0x01, 0, 0, 0, 0, 0, 0));
    await assert.rejects(
      within(listening.accepted, 1000),
      (error) => error instanceof SocksReplyError && error.reply === 6,
    );
    assert.equal(network.attempts[0]!.conn!.closed, true);
  });

  it("rejects accepted when closed while waiting for the peer", async () => {
    const network = proxyNetwork();
    const opening = bind("socks5h://10.0.0.1", "0.0.0.0:0", { network });
    const proxy = await waitFor(() => network.attempts[0]?.peer);
    await answerHandshake(proxy);
    const listening = await within(opening, 1000);
    listening.close();
    await assert.rejects(within(listening.accepted, 1000), {
      message: "Cannot accept a connection: the BIND was closed",
    });
    assert.equal(network.attempts[0]!.conn!.closed, true);
  });

  it("waits for the peer beyond the timeout, which bounds the first reply only", async () => {
    const network = proxyNetwork();
    const opening = bind("socks5h://10.0.0.1", "0.0.0.0:0", {
      network,
      timeout: 30,
    });
    const proxy = await waitFor(() => network.attempts[0]?.peer);
    await answerHandshake(proxy);
    const listening = await within(opening, 1000);
    await new Promise((resolve) => setTimeout(resolve, 60));
    await proxy.write(successReply("192.0.2.9", 1));
    const tunnel = await within(listening.accepted, 1000);
    assert.equal(tunnel.bound.port, 1);
    tunnel.close();
  });
});
