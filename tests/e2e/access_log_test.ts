import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startCli } from "../_helpers/e2e/cli_process.ts";
import { socksConnect } from "../_helpers/e2e/proxy.ts";
import { RawSocket } from "../_helpers/e2e/raw_socket.ts";
import { startEchoServer, type TcpServer } from "../_helpers/e2e/tcp_server.ts";

const CONNECTIONS = 60;
const credentials = { username: "alice", password: "s3cret" };

describe("the CLI's access log", () => {
  let echo: TcpServer;

  before(async () => {
    echo = await startEchoServer("127.0.0.1");
  });

  after(async () => {
    await echo.close();
  });

  it("holds every access line, whole, after SIGTERM", {
    timeout: 30_000,
  }, async () => {
    const cli = await startCli([
      "--listen",
      "127.0.0.1:0",
      "--user",
      "alice:s3cret",
      "--log-format",
      "json",
    ]);
    try {
      const proxy = { host: "127.0.0.1", port: cli.port };
      for (let batch = 0; batch < CONNECTIONS / 20; batch++) {
        await Promise.all(
          Array.from({ length: 20 }, async () => {
            const { socket } = await socksConnect(proxy, echo, credentials);
            const raw = new RawSocket(socket);
            try {
              raw.write(new TextEncoder().encode("ping"));
              assert.equal(new TextDecoder().decode(await raw.read(4)), "ping");
            } finally {
              raw.destroy();
            }
          }),
        );
      }
    } finally {
      // At once: the last access lines are logged while the server closes.
      cli.signal("SIGTERM");
    }
    assert.equal(await cli.status(), 0);
    const lines = cli.stderr().split("\n");
    assert.equal(lines.pop(), "", "the log ends in the middle of a line");
    // The shell's own lines, then nothing but whole JSON records.
    const records = lines
      .filter((line) => !/^(pid|status) \d+$/.test(line))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const access = records.filter((r) => r.msg === "access");
    assert.equal(access.length, CONNECTIONS);
    for (const record of access) {
      assert.equal(record.user, "alice");
      assert.equal(record.reply, 0);
      assert.equal(record.up, 4);
      assert.equal(record.down, 4);
    }
    // The lines logged in the last turn before the exit are there too.
    assert.equal(
      records.at(-1)?.msg,
      "closed",
      JSON.stringify(records.slice(-3)),
    );
    assert.equal(records.filter((r) => r.msg === "closing").length, 1);
  });
});
