import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { serve } from "../../mod.ts";
import { refusedPort } from "../_helpers/e2e/free_port.ts";
import { startProxy } from "../_helpers/e2e/proxy.ts";
import { RawSocket } from "../_helpers/e2e/raw_socket.ts";
import {
  failureReply,
  greeting,
  openTunnel,
  request,
} from "../_helpers/e2e/socks_raw.ts";
import { startEchoServer, type TcpServer } from "../_helpers/e2e/tcp_server.ts";
import {
  delay,
  eventually,
  withTimeout,
} from "../_helpers/e2e/with_timeout.ts";
import { runtimeCommand } from "../_helpers/runtime.ts";

const childScript = new URL(
  "../_helpers/e2e/lifecycle_child.ts",
  import.meta.url,
);

interface Child {
  process: ChildProcess;
  /** Lines of stdout so far. */
  lines: string[];
  stderr: () => string;
  /** Exit code (null: killed by a signal) and when it came. */
  exited: Promise<{ code: number | null; at: number }>;
}

function startChild(): Child {
  const { command, args } = runtimeCommand(childScript);
  const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
  const lines: string[] = [];
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (chunk) => {
    stdout += chunk;
    const parts = stdout.split("\n");
    stdout = parts.pop()!;
    lines.push(...parts);
  });
  child.stderr!.on("data", (chunk) => stderr += chunk);
  const exited = new Promise<{ code: number | null; at: number }>(
    (resolve) => {
      child.once("exit", (code) => resolve({ code, at: Date.now() }));
    },
  );
  return { process: child, lines, stderr: () => stderr, exited };
}

async function line(child: Child, prefix: string, ms: number) {
  await eventually(
    () => child.lines.some((l) => l.startsWith(prefix)),
    ms,
    `the child to print "${prefix}…" (stderr: ${child.stderr()})`,
  );
  return child.lines.find((l) => l.startsWith(prefix))!;
}

describe("server lifecycle", () => {
  let echo: TcpServer;

  before(async () => {
    echo = await startEchoServer("127.0.0.1");
  });

  after(async () => {
    await echo?.close();
  });

  it("leaves nothing open after close(): the process exits by itself", async () => {
    const child = startChild();
    const open: RawSocket[] = [];
    try {
      const port = Number((await line(child, "port ", 15_000)).slice(5));
      const proxy = { host: "127.0.0.1", port };
      // Traffic that has finished by the time the server closes: a tunnel
      // closed by the client, a refused CONNECT, a CONNECT by name.
      const done = await openTunnel(proxy, echo);
      const payload = new Uint8Array(64 * 1024).fill(7);
      await done.raw.write(payload);
      assert.equal(
        (await done.raw.read(payload.length)).length,
        payload.length,
      );
      await done.raw.end();
      await done.raw.readToEnd();
      done.raw.destroy();
      const refused = await openTunnel(proxy, {
        host: "127.0.0.1",
        port: await refusedPort(),
      });
      assert.deepEqual(refused.reply.bytes, failureReply(0x05));
      refused.raw.destroy();
      const named = await openTunnel(proxy, {
        host: "localhost",
        port: echo.port,
      });
      await named.raw.write(new Uint8Array([1, 2, 3]));
      await named.raw.read(3);
      named.raw.destroy();
      // Open when the server closes: a tunnel and a stalled handshake.
      const tunnel = await openTunnel(proxy, echo);
      open.push(tunnel.raw);
      await tunnel.raw.write(new Uint8Array([4, 5]));
      await tunnel.raw.read(2);
      const stalled = await RawSocket.connect("127.0.0.1", port);
      open.push(stalled);
      await stalled.write(new Uint8Array([0x05]));

      const closed = await line(child, "closed ", 10_000);
      assert.ok(!child.lines.includes("not ready"), child.lines.join("\n"));
      const [, ms, left] = closed.split(" ").map(Number);
      assert.equal(left, 0);
      assert.ok(ms! >= 150, `close() took ${ms} ms, before the grace period`);
      assert.ok(ms! < 2_000, `close() took ${ms} ms`);
      const closedAt = Date.now();
      const { code, at } = await withTimeout(
        child.exited,
        3_000,
        "the child to exit by itself after close()",
      );
      assert.equal(code, 0, child.stderr());
      assert.ok(
        at - closedAt < 3_000,
        `exited ${at - closedAt} ms after close`,
      );
      // The server closed both (reset or FIN: the stalled one had unread
      // bytes).
      for (const raw of open) await raw.ended(2_000);
    } finally {
      for (const raw of open) raw.destroy();
      if (child.process.exitCode === null) child.process.kill("SIGKILL");
      await withTimeout(child.exited, 5_000, "the child to be gone");
    }
  });

  it("lets a tunnel go on after close() and cuts it after gracePeriod", async () => {
    const { server, logger, endpoint } = await startProxy({});
    try {
      const { raw } = await openTunnel(endpoint, echo);
      try {
        await raw.write(new Uint8Array([1]));
        await raw.read(1);
        const started = Date.now();
        const closing = server.close({ gracePeriod: 500 });
        await assert.rejects(RawSocket.connect("127.0.0.1", endpoint.port));
        await delay(100);
        const late = new TextEncoder().encode("still flowing");
        await raw.write(late);
        assert.deepEqual(await raw.read(late.length), late);
        await raw.ended(3_000);
        const cut = Date.now() - started;
        assert.ok(cut >= 450, `cut after ${cut} ms, before gracePeriod`);
        assert.ok(cut < 2_000, `cut after ${cut} ms`);
        await withTimeout(closing, 2_000, "close()");
        await withTimeout(server.closed, 1_000, "closed");
        assert.equal(server.connectionCount, 0);
        assert.equal(server.sessionCount("127.0.0.1"), 0);
        assert.equal(logger.named("closed").length, 1);
        const [record] = logger.named("access");
        assert.equal(record?.up, 1 + late.length);
        assert.equal(record?.down, 1 + late.length);
      } finally {
        raw.destroy();
      }
    } finally {
      await server.close({ gracePeriod: 0 });
    }
  });

  it("resolves close() as soon as the last tunnel finishes within gracePeriod", async () => {
    const { server, endpoint } = await startProxy({});
    try {
      const { raw } = await openTunnel(endpoint, echo);
      try {
        const started = Date.now();
        const closing = server.close({ gracePeriod: 5_000 });
        await delay(50);
        await raw.write(new Uint8Array([9, 9]));
        assert.deepEqual(await raw.read(2), new Uint8Array([9, 9]));
        await raw.end();
        assert.deepEqual(await raw.readToEnd(), new Uint8Array(0));
        await withTimeout(closing, 2_000, "close()");
        const elapsed = Date.now() - started;
        assert.ok(elapsed < 2_000, `close() took ${elapsed} ms`);
        await withTimeout(server.closed, 1_000, "closed");
        assert.equal(server.connectionCount, 0);
      } finally {
        raw.destroy();
      }
    } finally {
      await server.close({ gracePeriod: 0 });
    }
  });

  it("closes handshakes at once and settles closed, whoever waits on it", async () => {
    const { server, endpoint } = await startProxy({});
    const stalled = await RawSocket.connect("127.0.0.1", endpoint.port);
    try {
      await stalled.write(greeting([0x00]));
      assert.deepEqual(await stalled.read(2), new Uint8Array([0x05, 0x00]));
      await stalled.write(
        request({ host: "127.0.0.1", port: echo.port }).subarray(0, 4),
      );
      await eventually(
        () => server.connectionCount === 1,
        2_000,
        "the stalled client to be accepted",
      );
      const started = Date.now();
      const first = server.close({ gracePeriod: 5_000 });
      const second = server.close();
      await withTimeout(
        Promise.all([first, second, server.closed]),
        2_000,
        "close()",
      );
      assert.ok(Date.now() - started < 1_000, "close() waited for a handshake");
      // FIN, or a reset if the close beat the server to the request bytes.
      await stalled.ended(1_000);
      assert.equal(stalled.received, 2);
      assert.equal(server.connectionCount, 0);
    } finally {
      stalled.destroy();
      await server.close({ gracePeriod: 0 });
    }
  });

  it("refuses to serve without login on a non-loopback address", async () => {
    await assert.rejects(
      serve({ listen: "0.0.0.0:0", logger: { log() {} } }),
      (error: unknown) =>
        error instanceof TypeError && /noAuth/.test(error.message),
    );
  });
});
