import assert from "node:assert/strict";
import { lookup } from "node:dns/promises";
import { after, before, describe, it } from "node:test";
import { accessRecord, type Proxy, startProxy } from "../_helpers/e2e/proxy.ts";
import { canonicalHost, type Endpoint } from "../_helpers/e2e/socks_raw.ts";
import {
  type Association,
  parseFrame,
  socksAssociate,
  startUdpEcho,
  udpFrame,
  UdpPeer,
} from "../_helpers/e2e/udp.ts";

const ANY4 = { host: "0.0.0.0", port: 0 };
const ANY6 = { host: "::", port: 0 };
// Long enough for a datagram on loopback to arrive if it is going to.
const QUIET_MS = 300;
const encoder = new TextEncoder();

function bytes(text: string): Uint8Array {
  return encoder.encode(text);
}

function clientText(host: string, association: Association): string {
  const port = association.control.localPort;
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

// Ends the association from the client's side and returns its record.
async function finish(proxy: Proxy, host: string, association: Association) {
  association.control.destroy();
  return await accessRecord(proxy, clientText(host, association));
}

// Sends `payload` to `to` through the relay and asserts the answer: the
// echo, in a frame whose header names `to`, from the relay's address.
async function assertRoundTrip(
  client: UdpPeer,
  relay: Endpoint,
  to: Endpoint,
  payload: Uint8Array,
): Promise<void> {
  await client.send(udpFrame(to, payload), relay);
  const answer = await client.next(2_000);
  assert.deepEqual(
    { host: canonicalHost(answer.host), port: answer.port },
    relay,
    "the answer comes from the relay",
  );
  assert.deepEqual(parseFrame(answer.data), {
    frag: 0,
    host: canonicalHost(to.host),
    port: to.port,
    data: payload,
  });
}

describe("UDP ASSOCIATE over real sockets", () => {
  let echo: UdpPeer;
  let echo6: UdpPeer;
  let open: Proxy;
  let open6: Endpoint;

  before(async () => {
    echo = await startUdpEcho("127.0.0.1");
    echo6 = await startUdpEcho("::1");
    open = await startProxy({ listen: ["127.0.0.1:0", "[::1]:0"] });
    open6 = open.server.addresses[1]!;
  });

  after(async () => {
    await open?.server.close({ gracePeriod: 0 });
    await echo?.close();
    await echo6?.close();
  });

  it("relays to an IPv4 echo server and back", async () => {
    const client = await UdpPeer.bind("127.0.0.1");
    const association = await socksAssociate(open.endpoint, ANY4);
    try {
      assert.equal(association.relay.host, "127.0.0.1");
      await assertRoundTrip(client, association.relay, echo, bytes("v4"));
    } finally {
      association.control.destroy();
      await client.close();
    }
  });

  it("relays to an IPv6 echo server from a relay on ::1", async () => {
    const client = await UdpPeer.bind("::1");
    const association = await socksAssociate(open6, ANY6);
    try {
      assert.equal(association.relay.host, "::1");
      await assertRoundTrip(client, association.relay, echo6, bytes("v6"));
    } finally {
      association.control.destroy();
      await client.close();
    }
  });

  it("relays to a destination by name, naming its address in the answer", async () => {
    // The relay sends to the first address the name resolves to.
    const [first] = await lookup("localhost", { all: true, verbatim: true });
    const address = canonicalHost(first!.address);
    const target = address === "::1" ? echo6 : echo;
    assert.equal(target.host, address);
    const client = await UdpPeer.bind("127.0.0.1");
    const association = await socksAssociate(open.endpoint, ANY4);
    try {
      const payload = bytes("by name");
      await client.send(
        udpFrame({ host: "localhost", port: target.port }, payload),
        association.relay,
      );
      const answer = parseFrame((await client.next(2_000)).data);
      assert.deepEqual(answer, {
        frag: 0,
        host: address,
        port: target.port,
        data: payload,
      });
    } finally {
      association.control.destroy();
      await client.close();
    }
  });

  it("drops datagrams from another address than the client's", async () => {
    const client = await UdpPeer.bind("127.0.0.1");
    const stranger = await UdpPeer.bind("127.0.0.2");
    const association = await socksAssociate(open.endpoint, ANY4);
    try {
      const echoed = echo.received.length;
      await stranger.send(udpFrame(echo, bytes("spoof")), association.relay);
      await stranger.silence(QUIET_MS);
      assert.equal(echo.received.length, echoed, "nothing reached the echo");
      await assertRoundTrip(client, association.relay, echo, bytes("mine"));
      const record = await finish(open, "127.0.0.1", association);
      assert.equal(record.dropped, 1);
      assert.equal(record.datagramsUp, 1);
      assert.equal(record.datagramsDown, 1);
    } finally {
      association.control.destroy();
      await client.close();
      await stranger.close();
    }
  });

  it("takes datagrams only from the port the request named", async () => {
    const client = await UdpPeer.bind("127.0.0.1");
    const other = await UdpPeer.bind("127.0.0.1");
    const association = await socksAssociate(open.endpoint, {
      host: "127.0.0.1",
      port: client.port,
    });
    try {
      const echoed = echo.received.length;
      await other.send(udpFrame(echo, bytes("other")), association.relay);
      await other.silence(QUIET_MS);
      assert.equal(echo.received.length, echoed, "nothing reached the echo");
      await assertRoundTrip(client, association.relay, echo, bytes("named"));
      const record = await finish(open, "127.0.0.1", association);
      assert.equal(record.destination, `127.0.0.1:${client.port}`);
      assert.equal(record.dropped, 1);
      assert.equal(record.datagramsUp, 1);
    } finally {
      association.control.destroy();
      await client.close();
      await other.close();
    }
  });

  it("drops FRAG ≠ 0 and malformed headers and keeps relaying", async () => {
    const client = await UdpPeer.bind("127.0.0.1");
    const association = await socksAssociate(open.endpoint, ANY4);
    const { relay } = association;
    try {
      const echoed = echo.received.length;
      const bad = [
        udpFrame(echo, bytes("fragment"), 1),
        // ATYP 0x09 does not exist.
        new Uint8Array([0, 0, 0, 0x09, 127, 0, 0, 1, 0, 7, 0x61]),
        // Cut off inside DST.ADDR.
        new Uint8Array([0, 0, 0, 0x01, 127, 0]),
      ];
      for (const [i, frame] of bad.entries()) {
        await client.send(frame, relay);
        await client.silence(QUIET_MS);
        await assertRoundTrip(client, relay, echo, bytes(`after ${i}`));
      }
      assert.equal(echo.received.length, echoed + 3, "only the good ones");
      const record = await finish(open, "127.0.0.1", association);
      assert.equal(record.dropped, 3);
      assert.equal(record.datagramsUp, 3);
      assert.equal(record.datagramsDown, 3);
    } finally {
      association.control.destroy();
      await client.close();
    }
  });

  it("lets only destinations the client has sent to answer", async () => {
    const client = await UdpPeer.bind("127.0.0.1");
    const stranger = await UdpPeer.bind("127.0.0.1");
    const association = await socksAssociate(open.endpoint, ANY4);
    const { relay } = association;
    try {
      await assertRoundTrip(client, relay, echo, bytes("open the way"));
      // The echo saw the relay's outbound socket: aim the stranger at it.
      const outbound = echo.received.at(-1)!;
      assert.equal(outbound.host, "127.0.0.1");
      await stranger.send(bytes("unsolicited"), outbound);
      await client.silence(QUIET_MS);

      // Once the client has sent to the stranger, it may answer.
      const hello = bytes("hello stranger");
      await client.send(udpFrame(stranger, hello), relay);
      const got = await stranger.next(2_000);
      assert.deepEqual(got.data, hello);
      assert.equal(got.port, outbound.port, "one outbound socket per family");
      const answer = bytes("hello client");
      await stranger.send(answer, got);
      assert.deepEqual(parseFrame((await client.next(2_000)).data), {
        frag: 0,
        host: "127.0.0.1",
        port: stranger.port,
        data: answer,
      });
      const record = await finish(open, "127.0.0.1", association);
      assert.equal(record.dropped, 1);
      assert.equal(record.datagramsUp, 2);
      assert.equal(record.datagramsDown, 2);
    } finally {
      association.control.destroy();
      await client.close();
      await stranger.close();
    }
  });

  it("releases the association when the control connection closes", async () => {
    const client = await UdpPeer.bind("127.0.0.1");
    const association = await socksAssociate(open.endpoint, ANY4);
    const { relay } = association;
    try {
      await assertRoundTrip(client, relay, echo, bytes("before"));
      const outbound = echo.received.at(-1)!;
      const record = await finish(open, "127.0.0.1", association);
      assert.equal(record.end, "closed");
      const echoed = echo.received.length;
      await client.send(udpFrame(echo, bytes("after")), relay);
      await client.silence(QUIET_MS);
      assert.equal(echo.received.length, echoed, "nothing reached the echo");
      // Both of the association's ports are free again.
      const reuse = await UdpPeer.bind("127.0.0.1", relay.port);
      await reuse.close();
      const reuseOutbound = await UdpPeer.bind("0.0.0.0", outbound.port);
      await reuseOutbound.close();
    } finally {
      association.control.destroy();
      await client.close();
    }
  });

  it("relays a burst of 1,000 datagrams and serves a new association after", {
    timeout: 30_000,
  }, async () => {
    const COUNT = 1_000;
    const client = await UdpPeer.bind("127.0.0.1");
    const association = await socksAssociate(open.endpoint, ANY4);
    const { relay } = association;
    let arrived = 0;
    try {
      const payload = new Uint8Array(200);
      // Bounded: COUNT sends in bursts of 100 at full speed; between
      // bursts, a pause until the answers so far are in (at most 200 ms),
      // so the four socket buffers on the way (client, relay, echo, relay)
      // start each burst empty. A fixed 5 ms pause is not enough for Deno's
      // node:dgram, which then loses up to a third.
      for (let i = 0; i < COUNT; i++) {
        payload[0] = i >> 8;
        payload[1] = i & 0xff;
        await client.send(udpFrame(echo, payload), relay);
        if (i % 100 === 99) await client.waitForCount(i + 1, 200);
      }
      arrived = await client.waitForCount(COUNT, 5_000);
      const seen = new Set(
        client.received.map((r) => {
          const { data } = parseFrame(r.data);
          assert.equal(data.length, 200);
          return (data[0]! << 8) | data[1]!;
        }),
      );
      assert.equal(seen.size, arrived, "no datagram came back twice");
      const record = await finish(open, "127.0.0.1", association);
      console.log(
        `UDP burst: ${arrived} of ${COUNT} datagrams came back; relay counted up ${record.datagramsUp}, down ${record.datagramsDown}, dropped ${record.dropped}`,
      );
      assert.ok(arrived >= COUNT * 0.9, `${arrived} of ${COUNT} came back`);
      assert.ok(record.datagramsDown as number >= arrived);
      assert.equal(record.dropped, 0);
    } finally {
      association.control.destroy();
      await client.close();
    }
    const fresh = await UdpPeer.bind("127.0.0.1");
    const next = await socksAssociate(open.endpoint, ANY4);
    try {
      await assertRoundTrip(fresh, next.relay, echo, bytes("still serving"));
    } finally {
      next.control.destroy();
      await fresh.close();
    }
  });

  it("logs one udp access record with datagram and byte counts", async () => {
    const client = await UdpPeer.bind("127.0.0.1");
    const association = await socksAssociate(open.endpoint, ANY4);
    const { relay } = association;
    try {
      for (const size of [5, 17, 300]) {
        const payload = new Uint8Array(size).fill(size & 0xff);
        await assertRoundTrip(client, relay, echo, payload);
      }
      await client.send(udpFrame(echo, bytes("dropped"), 2), relay);
      await client.silence(QUIET_MS);
      const record = await finish(open, "127.0.0.1", association);
      assert.equal(record.level, "info");
      assert.equal(record.command, "udp");
      assert.equal(record.user, null);
      assert.equal(record.destination, "0.0.0.0:0");
      assert.equal(record.reply, 0x00);
      assert.equal(record.up, 322);
      assert.equal(record.down, 322);
      assert.equal(record.datagramsUp, 3);
      assert.equal(record.datagramsDown, 3);
      assert.equal(record.dropped, 1);
      assert.equal(record.end, "closed");
    } finally {
      association.control.destroy();
      await client.close();
    }
  });
});
