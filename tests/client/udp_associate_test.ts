import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { udpAssociate } from "../../src/client/udp_associate.ts";
import type { Datagram } from "../../src/net/connection.ts";
import { FakeNetwork } from "../_helpers/fake_network.ts";
import {
  bytes,
  sleep,
  waitFor,
  within,
} from "../_helpers/memory_connection.ts";
import { answerHandshake, successReply } from "./_proxy_script.ts";

const RELAY = { host: "10.0.0.1", port: 7000 };

function proxyNetwork(): FakeNetwork {
  return new FakeNetwork()
    .onLookup("example.test", { addresses: ["192.0.2.53"] })
    .onConnect("10.0.0.1", {
      type: "connect",
      local: { host: "10.0.0.2", port: 45000 },
    });
}

async function open(
  network: FakeNetwork,
  reply: Uint8Array = successReply(RELAY.host, RELAY.port),
  url = "socks5h://10.0.0.1",
  queueSize?: number,
) {
  const opening = udpAssociate(url, {
    network,
    ...(queueSize === undefined ? {} : { queueSize }),
  });
  const proxy = await waitFor(() => network.attempts[0]?.peer);
  const { heard } = await answerHandshake(proxy, { reply });
  const udp = await within(opening, 1000, "udpAssociate()");
  return { udp, proxy, heard, socket: network.udpSockets[0]! };
}

function header(host: number[], port: number, frag = 0): number[] {
  return [0, 0, frag, 0x01, ...host, port >> 8, port & 0xff];
}

describe("udpAssociate() over a scripted network", () => {
  it("binds on the interface that reaches the proxy and names it in the request", async () => {
    const network = proxyNetwork();
    const { udp, heard, socket } = await open(network);
    assert.deepEqual(socket.address, { host: "10.0.0.2", port: 30000 });
    assert.deepEqual(heard.request, [
      0x05,
      0x03,
      0x00,
      0x01,
      10,
      0,
      0,
      2,
      30000 >> 8,
      30000 & 0xff,
    ]);
    assert.deepEqual(udp.relay, RELAY);
    assert.deepEqual(udp.address, socket.address);
    udp.close();
  });

  it("wraps each datagram in the SOCKS header and sends it to the relay", async () => {
    const network = proxyNetwork();
    const { udp, socket } = await open(network);
    await udp.send(bytes("ping"), "192.0.2.7:53");
    await udp.send(bytes("name"), { host: "example.test", port: 5353 });
    assert.deepEqual(
      socket.sent.map((d) => ({ ...d, data: [...d.data] })),
      [
        { ...RELAY, data: [...header([192, 0, 2, 7], 53), ...bytes("ping")] },
        {
          ...RELAY,
          data: [
            0,
            0,
            0,
            0x03,
            12,
            ...bytes("example.test"),
            0x14,
            0xe9,
            ...bytes("name"),
          ],
        },
      ],
    );
    udp.close();
  });

  it("resolves names before sending for socks5://", async () => {
    const network = proxyNetwork();
    const { udp, socket } = await open(
      network,
      undefined,
      "socks5://10.0.0.1",
    );
    await udp.send(bytes("x"), "example.test:53");
    assert.deepEqual(
      [...socket.sent[0]!.data],
      [...header([192, 0, 2, 53], 53), ...bytes("x")],
    );
    udp.close();
  });

  it("yields datagrams from the relay with their sender, dropping the rest", async () => {
    const network = proxyNetwork();
    const { udp, socket } = await open(network);
    const from = (data: number[], host = RELAY.host, port = RELAY.port) =>
      socket.deliver({ data: new Uint8Array(data), host, port });
    from([...header([192, 0, 2, 7], 53), 1, 2]);
    from([...header([192, 0, 2, 7], 53), 3], "10.0.0.9"); // not the relay
    from([...header([192, 0, 2, 7], 53), 4], RELAY.host, 7001); // wrong port
    from([...header([192, 0, 2, 7], 53, 1), 5]); // a fragment
    from([0, 0, 0, 0x09, 1]); // malformed
    from([...header([192, 0, 2, 8], 54), 6]);
    const received: Array<{ host: string; port: number; data: number[] }> = [];
    for await (const datagram of udp) {
      received.push({ ...datagram, data: [...datagram.data] });
      if (received.length === 2) break;
    }
    assert.deepEqual(received, [
      { host: "192.0.2.7", port: 53, data: [1, 2] },
      { host: "192.0.2.8", port: 54, data: [6] },
    ]);
    assert.equal(udp.dropped, 4);
    udp.close();
  });

  it("drops datagrams past the queue size", async () => {
    const network = proxyNetwork();
    const { udp, socket } = await open(network, undefined, undefined, 2);
    for (let i = 0; i < 5; i++) {
      socket.deliver({
        data: new Uint8Array([...header([192, 0, 2, 7], 53), i]),
        ...RELAY,
      });
    }
    assert.equal(udp.dropped, 3);
    udp.close();
    const payloads: number[] = [];
    for await (const datagram of udp) payloads.push(...datagram.data);
    assert.deepEqual(payloads, [0, 1], "queued datagrams outlive close()");
  });

  it("takes the relay to be at the proxy when it replies 0.0.0.0", async () => {
    const network = proxyNetwork();
    const { udp } = await open(network, successReply("0.0.0.0", 7001));
    assert.deepEqual(udp.relay, { host: "10.0.0.1", port: 7001 });
    udp.close();
  });

  it("ends when the proxy closes the control connection", async () => {
    const network = proxyNetwork();
    const { udp, proxy, socket } = await open(network);
    const iterating = (async () => {
      const got: Datagram[] = [];
      for await (const datagram of udp) got.push(datagram);
      return got;
    })();
    await sleep(5);
    proxy.close();
    await within(udp.closed, 1000, "the association to end");
    assert.deepEqual(await within(iterating, 1000), []);
    assert.equal(socket.closed, true);
    assert.equal(network.attempts[0]!.conn!.closed, true);
    await assert.rejects(udp.send(bytes("late"), "192.0.2.7:53"), {
      message: "Cannot send: the association is closed",
    });
  });

  it("close() ends the association and frees the UDP socket", async () => {
    const network = proxyNetwork();
    const { udp, proxy, socket } = await open(network);
    udp.close();
    udp.close();
    await within(udp.closed, 1000);
    assert.equal(socket.closed, true);
    assert.equal(await within(proxy.read(), 1000), null);
  });

  it("frees the UDP socket when the proxy refuses", async () => {
    const network = proxyNetwork();
    const opening = udpAssociate("socks5h://10.0.0.1", { network });
    const proxy = await waitFor(() => network.attempts[0]?.peer);
    await answerHandshake(proxy, {
      reply: bytes(0x05, 0x07, 0x00, 0x01, 0, 0, 0, 0, 0, 0),
    });
    await assert.rejects(within(opening, 1000), {
      name: "SocksReplyError",
      message: "SOCKS5 proxy replied 0x07: command not supported",
    });
    assert.equal(network.udpSockets[0]!.closed, true);
    assert.equal(network.attempts[0]!.conn!.closed, true);
  });
});
