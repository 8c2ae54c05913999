import assert from "node:assert/strict";
import { lookup } from "node:dns/promises";
import { after, before, describe, it } from "node:test";
import { type Proxy, startProxy } from "../_helpers/e2e/proxy.ts";
import { run } from "../_helpers/e2e/run.ts";
import { canonicalHost } from "../_helpers/e2e/socks_raw.ts";
import { startUdpEcho, type UdpPeer } from "../_helpers/e2e/udp.ts";

// Debian's python3-socks; the pyenv python3 on PATH cannot import it.
const PYTHON = "/usr/bin/python3";

// argv: proxy port, destination host, destination port, username, password
// (both empty: no login), payload, rdns (1/0). PySocks sends UDP ASSOCIATE
// on a control connection when the datagram socket is first used, and ends
// the association by closing it. Prints the answer and its source, or the
// error.
const client = `
import sys, socket, socks
port, host, dport, user, password, payload, rdns = sys.argv[1:8]
s = socks.socksocket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
s.set_proxy(socks.SOCKS5, "127.0.0.1", int(port), rdns=rdns == "1",
            username=user or None, password=password or None)
try:
    s.sendto(payload.encode(), (host, int(dport)))
    data, source = s.recvfrom(4096)
    print("echo:%s from:%s:%d" % (data.decode(), source[0], source[1]))
except Exception as e:
    print("error:" + type(e).__name__ + ":" + str(e))
finally:
    s.close()
`;

function pysocksUdp(port: number, destination: string, args: string[]) {
  return run(PYTHON, ["-c", client, String(port), destination, ...args]);
}

describe("PySocks UDP through the proxy", () => {
  let echo: UdpPeer;
  let echo6: UdpPeer;
  let open: Proxy;
  let login: Proxy;

  before(async () => {
    echo = await startUdpEcho("127.0.0.1");
    echo6 = await startUdpEcho("::1");
    open = await startProxy({});
    login = await startProxy({ users: { alice: "s3cret" } });
  });

  after(async () => {
    await open?.server.close({ gracePeriod: 0 });
    await login?.server.close({ gracePeriod: 0 });
    await echo?.close();
    await echo6?.close();
  });

  it("echoes a datagram by IPv4 without a login", async () => {
    const result = await pysocksUdp(open.endpoint.port, "127.0.0.1", [
      String(echo.port),
      "",
      "",
      "hello udp",
      "0",
    ]);
    assert.equal(result.stderr, "");
    assert.equal(result.stdout, `echo:hello udp from:127.0.0.1:${echo.port}\n`);
    const record = await open.logger.waitFor(
      (r) => r.msg === "access" && r.command === "udp",
      5_000,
      "the udp access record",
    );
    // PySocks names its own port with address 0.0.0.0 (resolved from "0").
    assert.match(String(record.destination), /^0\.0\.0\.0:[1-9]\d*$/);
    assert.equal(record.reply, 0x00);
    assert.equal(record.datagramsUp, 1);
    assert.equal(record.datagramsDown, 1);
    assert.equal(record.dropped, 0);
    assert.equal(record.up, 9);
    assert.equal(record.down, 9);
  });

  it("echoes a datagram by name through a login, the relay resolving it", async () => {
    // The relay sends to the first address localhost resolves to.
    const [first] = await lookup("localhost", { all: true, verbatim: true });
    const address = canonicalHost(first!.address);
    const target = address === "::1" ? echo6 : echo;
    const result = await pysocksUdp(login.endpoint.port, "localhost", [
      String(target.port),
      "alice",
      "s3cret",
      "by name",
      "1",
    ]);
    assert.equal(result.stderr, "");
    assert.equal(
      result.stdout,
      `echo:by name from:${address}:${target.port}\n`,
    );
    const record = await login.logger.waitFor(
      (r) => r.msg === "access" && r.command === "udp",
      5_000,
      "the udp access record",
    );
    assert.equal(record.user, "alice");
    assert.equal(record.datagramsUp, 1);
    assert.equal(record.datagramsDown, 1);
    assert.equal(record.up, 7);
    assert.equal(record.down, 7);
  });
});
