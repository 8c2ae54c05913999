import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type Proxy, startProxy } from "../_helpers/e2e/proxy.ts";
import { run } from "../_helpers/e2e/run.ts";
import { startEchoServer, type TcpServer } from "../_helpers/e2e/tcp_server.ts";

// Debian's python3-socks; the pyenv python3 on PATH cannot import it.
const PYTHON = "/usr/bin/python3";

// argv: proxy port, destination host, destination port, username, password
// (both empty: no login), payload. Prints what came back, or the error.
const client = `
import sys, socks
port, host, dport, user, password, payload = sys.argv[1:7]
s = socks.socksocket()
s.settimeout(5)
s.set_proxy(socks.SOCKS5, "127.0.0.1", int(port), rdns=True,
            username=user or None, password=password or None)
try:
    s.connect((host, int(dport)))
    s.sendall(payload.encode())
    got = b""
    while len(got) < len(payload):
        chunk = s.recv(4096)
        if not chunk:
            break
        got += chunk
    print("echo:" + got.decode())
except Exception as e:
    print("error:" + type(e).__name__ + ":" + str(e))
finally:
    s.close()
`;

function pysocks(port: number, destination: string, args: string[]) {
  return run(PYTHON, ["-c", client, String(port), destination, ...args]);
}

describe("PySocks through the proxy", () => {
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

  it("echoes through a login, the proxy resolving localhost (rdns)", async () => {
    const result = await pysocks(login.endpoint.port, "localhost", [
      String(echo.port),
      "alice",
      "s3cret",
      "hello from python",
    ]);
    assert.equal(result.stderr, "");
    assert.equal(result.stdout, "echo:hello from python\n");
    const record = await login.logger.waitFor(
      (r) => r.msg === "access",
      5_000,
      "the access record",
    );
    assert.equal(record.user, "alice");
    assert.equal(record.destination, `localhost:${echo.port}`);
    assert.equal(record.up, 17);
    assert.equal(record.down, 17);
  });

  it("echoes by IPv4 without a login", async () => {
    const result = await pysocks(open.endpoint.port, "127.0.0.1", [
      String(echo.port),
      "",
      "",
      "no login",
    ]);
    assert.equal(result.stderr, "");
    assert.equal(result.stdout, "echo:no login\n");
  });

  it("reports an authentication error for a wrong password", async () => {
    const result = await pysocks(login.endpoint.port, "localhost", [
      String(echo.port),
      "alice",
      "wrong",
      "never sent",
    ]);
    // PySocks wraps its SOCKS5AuthError, raised on status 0x01.
    assert.equal(
      result.stdout,
      "error:GeneralProxyError:Socket error: SOCKS5 authentication failed\n",
    );
  });
});
