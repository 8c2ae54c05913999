import assert from "node:assert/strict";
import net from "node:net";
import { after, before, describe, it } from "node:test";
import { type CliProcess, startCli } from "../_helpers/e2e/cli_process.ts";
import { greeting, request } from "../_helpers/e2e/socks_raw.ts";
import { startEchoServer, type TcpServer } from "../_helpers/e2e/tcp_server.ts";
import { runtimeName } from "../_helpers/runtime.ts";
import { eventually } from "../_helpers/e2e/with_timeout.ts";

// The server runs under this many descriptors: its budget is then
// floor((256 - 64 - 1) / 3) = 63 clients.
const OPEN_FILES = 256;
const BUDGET = 63;
const ATTEMPTS = 200;

type Outcome = "tunnel" | "reply" | "closed" | "hung";

// One CONNECT to `echo` through the proxy from `from`, the greeting and
// request sent at once: what came back within a second, and the socket,
// left open while it is a tunnel.
function attempt(
  port: number,
  echo: TcpServer,
  from = "127.0.0.1",
): Promise<{ outcome: Outcome; socket: net.Socket }> {
  const ms = 1_000;
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port, localAddress: from });
    let received = new Uint8Array(0);
    const finish = (outcome: Outcome) => {
      clearTimeout(timer);
      socket.removeAllListeners("data");
      resolve({ outcome, socket });
    };
    const timer = setTimeout(() => finish("hung"), ms);
    socket.on("error", () => {});
    socket.on("connect", () => {
      socket.write(greeting([0x00]));
      socket.write(request(echo));
    });
    socket.on("data", (chunk: Uint8Array) => {
      received = new Uint8Array([...received, ...chunk]);
      // 05 00, then the 10-byte IPv4 reply.
      if (received.length >= 12) finish(received[3] === 0 ? "tunnel" : "reply");
    });
    socket.on("close", () => finish("closed"));
  });
}

async function attemptAll(
  port: number,
  echo: TcpServer,
): Promise<{ counts: Record<Outcome, number>; sockets: net.Socket[] }> {
  const results = await Promise.all(
    // From ten addresses, so no one address meets its share of handshake
    // slots before the budget.
    Array.from(
      { length: ATTEMPTS },
      (_, i) => attempt(port, echo, `127.0.0.${10 + i % 10}`),
    ),
  );
  const counts = { tunnel: 0, reply: 0, closed: 0, hung: 0 };
  for (const { outcome } of results) counts[outcome]++;
  return { counts, sockets: results.map((result) => result.socket) };
}

let echo: TcpServer;
before(async () => {
  echo = await startEchoServer("127.0.0.1");
});
after(() => echo.close());

// Every tunnel through `cli` is closed, then a new client is served.
async function assertServedAfter(cli: CliProcess, sockets: net.Socket[]) {
  for (const socket of sockets) socket.destroy();
  let again: Outcome = "hung";
  for (let i = 0; i < 20 && again !== "tunnel"; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    const { outcome, socket } = await attempt(cli.port, echo);
    socket.destroy();
    again = outcome;
  }
  assert.equal(again, "tunnel", "served once the tunnels are gone");
}

describe("the descriptor budget, under ulimit -n", () => {
  it("refuses the clients over its budget at once and serves again after", {
    timeout: 30_000,
  }, async () => {
    const cli = await startCli([
      "--listen",
      "127.0.0.1:0",
      "--log-format",
      "json",
    ], { openFiles: OPEN_FILES });
    let sockets: net.Socket[] = [];
    try {
      const budget = await cli.waitForRecord(
        (r) => r.msg === "descriptors",
        "the descriptor figures",
      );
      assert.deepEqual(budget, {
        ...budget,
        limit: OPEN_FILES,
        reserved: 65,
        per_client: 3,
        max_connections: BUDGET,
      });
      const result = await attemptAll(cli.port, echo);
      sockets = result.sockets;
      assert.deepEqual(result.counts, {
        tunnel: BUDGET,
        reply: 0,
        closed: ATTEMPTS - BUDGET,
        hung: 0,
      });
      const refused = () =>
        cli.records().filter((r) => r.msg === "refused").map((r) => r.reason);
      await eventually(
        () => refused().length === ATTEMPTS - BUDGET,
        5_000,
        `${ATTEMPTS - BUDGET} refusals logged`,
      );
      assert.deepEqual(
        refused(),
        Array(ATTEMPTS - BUDGET).fill("maxConnections"),
      );
      await assertServedAfter(cli, sockets);
      assert.equal(
        cli.records().filter((r) => r.msg === "accept failing").length,
        0,
      );
      assert.ok(cli.stderr().split("\n").length < 2 * ATTEMPTS + 20);
    } finally {
      for (const socket of sockets) socket.destroy();
      assert.equal(await cli.stop(), 0);
    }
  });

  // Bun's accept failures stay in its native socket layer, where no
  // JavaScript hears of them: there the budget above is the remedy.
  it(
    "without a budget, answers or closes every client when out of descriptors",
    {
      timeout: 30_000,
      skip: runtimeName === "bun" && "Bun never reports a failed accept",
    },
    async () => {
      const cli = await startCli([
        "--listen",
        "127.0.0.1:0",
        "--log-format",
        "json",
        "--max-connections",
        "0",
        "--max-pending-handshakes-per-client",
        "0",
      ], { openFiles: OPEN_FILES });
      let sockets: net.Socket[] = [];
      try {
        // Stalled handshakes take every descriptor the server has left.
        sockets = Array.from({ length: OPEN_FILES }, (_, i) => {
          const socket = net.connect({
            host: "127.0.0.1",
            port: cli.port,
            localAddress: `127.0.0.${20 + i % 10}`,
          }, () => socket.write(new Uint8Array([0x05])));
          socket.on("error", () => {});
          return socket;
        });
        await new Promise((resolve) => setTimeout(resolve, 500));
        const result = await attemptAll(cli.port, echo);
        sockets.push(...result.sockets);
        const { counts } = result;
        assert.equal(counts.hung, 0, JSON.stringify(counts));
        assert.equal(counts.tunnel, 0, JSON.stringify(counts));
        await assertServedAfter(cli, sockets);
        // One line a second at most while accepts fail, not one a failure.
        const failing = cli.records().filter((r) => r.msg === "accept failing");
        assert.ok(failing.length <= 5, `${failing.length} accept lines`);
        // Node's libuv closes such clients itself and never reports it.
        if (runtimeName === "deno") assert.ok(failing.length >= 1);
      } finally {
        for (const socket of sockets) socket.destroy();
        assert.equal(await cli.stop(), 0);
      }
    },
  );
});
