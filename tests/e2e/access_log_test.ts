import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { startCli } from "../_helpers/e2e/cli_process.ts";
import { eventually, withTimeout } from "../_helpers/e2e/with_timeout.ts";
import { runtimeCommand } from "../_helpers/runtime.ts";
import { socksConnect } from "../_helpers/e2e/proxy.ts";
import { RawSocket } from "../_helpers/e2e/raw_socket.ts";
import { startEchoServer, type TcpServer } from "../_helpers/e2e/tcp_server.ts";

const CONNECTIONS = 60;
const credentials = { username: "alice", password: "s3cret" };
const cliScript = new URL("../../src/cli/main.ts", import.meta.url);

// One CONNECT through the proxy, 4 bytes echoed, then the close.
async function echoOnce(port: number, echo: TcpServer): Promise<void> {
  const proxy = { host: "127.0.0.1", port };
  const { socket } = await socksConnect(proxy, echo, credentials);
  const raw = new RawSocket(socket);
  try {
    raw.write(new TextEncoder().encode("ping"));
    assert.equal(new TextDecoder().decode(await raw.read(4)), "ping");
  } finally {
    raw.destroy();
  }
}

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
      for (let batch = 0; batch < CONNECTIONS / 20; batch++) {
        await Promise.all(
          Array.from({ length: 20 }, () => echoOnce(cli.port, echo)),
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

  it("keeps serving while nobody reads its stderr, and loses no line", {
    timeout: 60_000,
  }, async () => {
    // Enough access lines to fill a pipe (64 KiB) several times over.
    const count = 600;
    const { command, args } = runtimeCommand(cliScript, [
      "--listen",
      "127.0.0.1:0",
      "--user",
      "alice:s3cret",
      "--log-format",
      "json",
    ]);
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
    const exited = new Promise<number | null>((resolve) =>
      child.once("exit", (code) => resolve(code))
    );
    let stdout = "";
    child.stdout!.on("data", (chunk) => stdout += chunk);
    child.stderr!.pause();
    let stderr = "";
    try {
      await eventually(
        () => /listening on 127\.0\.0\.1:\d+\n/.test(stdout),
        10_000,
        "edgesocks to listen",
      );
      const port = Number(/listening on 127\.0\.0\.1:(\d+)/.exec(stdout)![1]);
      for (let batch = 0; batch < count / 20; batch++) {
        await withTimeout(
          Promise.all(Array.from({ length: 20 }, () => echoOnce(port, echo))),
          10_000,
          `batch ${batch} with stderr unread`,
        );
      }
    } finally {
      child.stderr!.on("data", (chunk) => stderr += chunk);
      child.stderr!.resume();
      child.kill("SIGTERM");
      await withTimeout(exited, 10_000, "edgesocks to exit").catch((error) => {
        child.kill("SIGKILL");
        throw error;
      });
      await eventually(() => child.stderr!.readableEnded, 5_000, "stderr end");
    }
    const records = stderr.split("\n").slice(0, -1).map((line) =>
      JSON.parse(line) as Record<string, unknown>
    );
    assert.equal(records.filter((r) => r.msg === "access").length, count);
    assert.equal(records.at(-1)?.msg, "closed");
  });
});
