import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { LogRecord } from "../../src/observe/logger.ts";
import { Metrics } from "../../src/observe/metrics.ts";
import {
  type MetricsServer,
  type MetricsServerOptions,
  serveMetrics,
} from "../../src/observe/metrics_server.ts";
import { errnoError, FakeNetwork } from "../_helpers/fake_network.ts";
import {
  bytes,
  type MemoryConnection,
  readToEnd,
  sleep,
  waitFor,
  within,
} from "../_helpers/memory_connection.ts";

const decoder = new TextDecoder();
const encoder = new TextEncoder();

interface Started {
  network: FakeNetwork;
  server: MetricsServer;
  metrics: Metrics;
  records: LogRecord[];
}

async function start(
  options: Partial<MetricsServerOptions> = {},
): Promise<Started> {
  const network = new FakeNetwork();
  const metrics = new Metrics();
  const records: LogRecord[] = [];
  const server = await serveMetrics(network, {
    address: { host: "127.0.0.1", port: 0 },
    metrics,
    logger: { log: (record) => records.push(record) },
    ...options,
  });
  return { network, server, metrics, records };
}

// Sends `chunks` one write each, then reads the whole response; the client
// closes afterwards, as an HTTP client does on `Connection: close`.
async function exchange(
  started: Started,
  ...chunks: Array<string | Uint8Array>
): Promise<string> {
  const client = started.network.listener().connect();
  try {
    for (const chunk of chunks) {
      await within(client.write(bytes(chunk)), 1000, "the server to read");
    }
    return decoder.decode(new Uint8Array(await readToEnd(client, 2000)));
  } finally {
    client.close();
  }
}

// The server-side end of the `index`-th connection, once closed.
function serverEnd(started: Started, index = 0): Promise<MemoryConnection> {
  return waitFor(
    () => {
      const conn = started.network.listener().accepted[index];
      return conn?.closed ? conn : undefined;
    },
    2000,
    `server connection ${index} to close`,
  );
}

async function closeServer(started: Started): Promise<void> {
  await within(started.server.close(), 2000, "close()");
}

function errorResponse(status: string, body: string, extra = ""): string {
  return `HTTP/1.1 ${status}\r\n` +
    "Content-Type: text/plain; charset=utf-8\r\n" + extra +
    `Content-Length: ${encoder.encode(body).length}\r\n` +
    "Connection: close\r\n\r\n" + body;
}

const NOT_FOUND = errorResponse("404 Not Found", "Not Found\n");
const BAD_REQUEST = errorResponse("400 Bad Request", "Bad Request\n");
const TOO_LARGE = errorResponse(
  "431 Request Header Fields Too Large",
  "Request Header Fields Too Large\n",
);

// A GET /metrics head padded with a header to exactly `size` bytes.
function headOfSize(size: number): string {
  const start = "GET /metrics HTTP/1.1\r\nX-Pad: ";
  return start + "a".repeat(size - start.length - 4) + "\r\n\r\n";
}

describe("serveMetrics()", () => {
  it("answers GET /metrics with the rendered metrics", async () => {
    const started = await start();
    try {
      started.metrics.connectionAccepted();
      started.metrics.reply("connect", 0x05);
      const body = started.metrics.render();
      const response = await exchange(
        started,
        "GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n",
      );
      assert.equal(
        response,
        "HTTP/1.1 200 OK\r\n" +
          "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n" +
          `Content-Length: ${encoder.encode(body).length}\r\n` +
          "Connection: close\r\n\r\n" + body,
      );
      assert.ok(
        body.includes(
          'edgesocks_replies_total{command="connect",code="05"} 1\n',
        ),
      );
      await serverEnd(started);
    } finally {
      await closeServer(started);
    }
  });

  it("renders at request time, and takes a query string", async () => {
    const started = await start();
    try {
      started.metrics.bytes({ up: 5 });
      const first = await exchange(started, "GET /metrics HTTP/1.0\r\n\r\n");
      started.metrics.bytes({ up: 7 });
      const second = await exchange(
        started,
        "GET /metrics?name[]=x HTTP/1.1\r\n\r\n",
      );
      assert.ok(first.includes('\nedgesocks_bytes_total{direction="up"} 5\n'));
      assert.ok(
        second.includes('\nedgesocks_bytes_total{direction="up"} 12\n'),
      );
    } finally {
      await closeServer(started);
    }
  });

  it("answers HEAD /metrics with GET's headers and no body", async () => {
    const started = await start();
    try {
      const length = encoder.encode(started.metrics.render()).length;
      const response = await exchange(
        started,
        "HEAD /metrics HTTP/1.1\r\n\r\n",
      );
      assert.equal(
        response,
        "HTTP/1.1 200 OK\r\n" +
          "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n" +
          `Content-Length: ${length}\r\n` +
          "Connection: close\r\n\r\n",
      );
    } finally {
      await closeServer(started);
    }
  });

  it("answers 404 for any other path", async () => {
    const started = await start();
    try {
      for (
        const target of ["/", "/metrics/", "/Metrics", "/metricsx", "*"]
      ) {
        const response = await exchange(
          started,
          `GET ${target} HTTP/1.1\r\n\r\n`,
        );
        assert.equal(response, NOT_FOUND, target);
      }
      const head = await exchange(started, "HEAD /nope HTTP/1.1\r\n\r\n");
      assert.equal(head, NOT_FOUND.slice(0, -"Not Found\n".length));
    } finally {
      await closeServer(started);
    }
  });

  it("answers 405 with Allow for other methods on /metrics", async () => {
    const started = await start();
    try {
      for (const method of ["POST", "PUT", "DELETE", "OPTIONS", "get"]) {
        const response = await exchange(
          started,
          `${method} /metrics HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello`,
        );
        assert.equal(
          response,
          errorResponse(
            "405 Method Not Allowed",
            "Method Not Allowed\n",
            "Allow: GET, HEAD\r\n",
          ),
          method,
        );
      }
    } finally {
      await closeServer(started);
    }
  });

  it("answers 400 for a malformed request line", async () => {
    const started = await start();
    try {
      const malformed = [
        "\r\n\r\n",
        "GARBAGE\r\n\r\n",
        "GET /metrics\r\n\r\n",
        "GET  /metrics HTTP/1.1\r\n\r\n",
        "GET /metrics HTTP/1.1 \r\n\r\n",
        "GET /metrics HTTP/2.0\r\n\r\n",
        "GET /metrics http/1.1\r\n\r\n",
        "GET /met rics HTTP/1.1\r\n\r\n",
        "G(T /metrics HTTP/1.1\r\n\r\n",
        "GET /m\u00e9trics HTTP/1.1\r\n\r\n",
        "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
        new Uint8Array([0, 255, 13, 10, 13, 10]),
      ];
      for (const request of malformed) {
        const response = await exchange(started, request);
        assert.equal(response, BAD_REQUEST, JSON.stringify(request));
      }
    } finally {
      await closeServer(started);
    }
  });

  it("skips empty lines before the request line", async () => {
    const started = await start();
    try {
      const response = await exchange(
        started,
        "\r\n\r\nGET /nope HTTP/1.1\r\n\r\n",
      );
      // The first blank line ends the head: an empty request line.
      assert.equal(response, BAD_REQUEST);
      const skipped = await exchange(started, "\r\nGET /nope HTTP/1.1\r\n\r\n");
      assert.equal(skipped, NOT_FOUND);
    } finally {
      await closeServer(started);
    }
  });

  it("reads a head however it is split", async () => {
    const started = await start();
    try {
      const request = "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n";
      const byByte = await exchange(started, ...request.split(""));
      assert.equal(byByte, NOT_FOUND);
      for (let cut = 1; cut < request.length; cut++) {
        const response = await exchange(
          started,
          request.slice(0, cut),
          request.slice(cut),
        );
        assert.equal(response, NOT_FOUND, `split at ${cut}`);
      }
    } finally {
      await closeServer(started);
    }
  });

  it("takes a head of exactly 8 KiB and answers 431 beyond", async () => {
    const started = await start();
    try {
      const atCap = await exchange(started, headOfSize(8192));
      assert.ok(atCap.startsWith("HTTP/1.1 200 OK\r\n"), atCap.slice(0, 40));
      const overCap = await exchange(started, headOfSize(8193));
      assert.equal(overCap, TOO_LARGE);
      const split = headOfSize(8193);
      const overInChunks = await exchange(
        started,
        split.slice(0, 4000),
        split.slice(4000, 8190),
        split.slice(8190),
      );
      assert.equal(overInChunks, TOO_LARGE);
    } finally {
      await closeServer(started);
    }
  });

  it("answers 431 to endless garbage without waiting for its end", async () => {
    const started = await start();
    try {
      const client = started.network.listener().connect();
      try {
        const junk = new Uint8Array(1024).fill(0x41);
        // 8 KiB with no blank line, then the client keeps quiet and
        // reads: 431 comes without waiting for more.
        for (let i = 0; i < 8; i++) {
          await within(client.write(junk), 1000, "the server to read");
        }
        const response = decoder.decode(
          new Uint8Array(await readToEnd(client, 2000)),
        );
        assert.equal(response, TOO_LARGE);
      } finally {
        client.close();
      }
      await serverEnd(started);
    } finally {
      await closeServer(started);
    }
  });

  it("answers 500 when rendering throws, and logs it", async () => {
    const started = await start({
      metrics: {
        render() {
          throw new Error("Cannot render: broken");
        },
      },
    });
    try {
      const response = await exchange(started, "GET /metrics HTTP/1.1\r\n\r\n");
      assert.equal(
        response,
        errorResponse("500 Internal Server Error", "Internal Server Error\n"),
      );
      assert.deepEqual(
        started.records.filter((r) => r.level === "error"),
        [{
          level: "error",
          msg: "metrics render failed",
          error: "Cannot render: broken",
        }],
      );
    } finally {
      await closeServer(started);
    }
  });

  it("closes a connection that sends no full head in time", async () => {
    const started = await start({ requestTimeout: 60 });
    try {
      const client = started.network.listener().connect();
      const began = Date.now();
      try {
        await within(
          client.write(bytes("GET /metrics HTTP/1.1\r\n")),
          1000,
          "the server to read",
        );
        const response = await readToEnd(client, 2000);
        const waited = Date.now() - began;
        assert.deepEqual(response, []);
        assert.ok(waited >= 50, `closed after ${waited} ms`);
      } finally {
        client.close();
      }
      await serverEnd(started);
    } finally {
      await closeServer(started);
    }
  });

  it("closes a client that lingers after its response at the deadline", async () => {
    const started = await start({ requestTimeout: 60 });
    try {
      const client = started.network.listener().connect();
      try {
        await within(
          client.write(bytes("GET /x HTTP/1.1\r\n\r\n")),
          1000,
          "the server to read",
        );
        // The client reads the response and its FIN, but does not close.
        const response = decoder.decode(
          new Uint8Array(await readToEnd(client, 1000)),
        );
        assert.equal(response, NOT_FOUND);
        const conn = await serverEnd(started);
        assert.equal(conn.closed, true);
      } finally {
        client.close();
      }
    } finally {
      await closeServer(started);
    }
  });

  it("reads what comes after the response until the client closes, up to 64 KiB", async () => {
    const started = await start();
    try {
      const client = started.network.listener().connect();
      try {
        const request = "POST /metrics HTTP/1.1\r\n\r\n";
        await within(client.write(bytes(request)), 1000, "the server to read");
        const response = decoder.decode(
          new Uint8Array(await readToEnd(client, 1000)),
        );
        assert.ok(response.startsWith("HTTP/1.1 405 Method Not Allowed\r\n"));
        const conn = started.network.listener().accepted[0]!;
        // A late body: read and dropped, the connection left open, so
        // closing it cannot reset what the client has not read yet.
        await within(client.write(new Uint8Array(1000)), 1000, "a read");
        await waitFor(
          () => conn.bytesRead === request.length + 1000 ? true : undefined,
          1000,
          "the server to read the late bytes",
        );
        assert.equal(conn.closed, false);
        const chunk = new Uint8Array(1024);
        for (let i = 0; i < 64; i++) {
          await within(client.write(chunk), 1000, `late chunk ${i}`);
        }
        await serverEnd(started);
        assert.equal(conn.bytesRead, request.length + 1000 + 64 * 1024);
      } finally {
        client.close();
      }
    } finally {
      await closeServer(started);
    }
  });

  it("closes quietly when the client leaves before a full head", async () => {
    const started = await start();
    try {
      const silent = started.network.listener().connect();
      await within(silent.closeWrite(), 1000, "closeWrite()");
      const partial = started.network.listener().connect();
      await within(
        partial.write(bytes("GET /metr")),
        1000,
        "the server to read",
      );
      partial.reset();
      const reset = started.network.listener().connect();
      reset.reset();
      assert.deepEqual(await readToEnd(silent, 1000), []);
      silent.close();
      for (let index = 0; index < 3; index++) await serverEnd(started, index);
      // And it goes on serving.
      assert.equal(
        await exchange(started, "GET / HTTP/1.1\r\n\r\n"),
        NOT_FOUND,
      );
      assert.deepEqual(
        started.records.filter((r) =>
          r.level !== "info" && r.level !== "debug"
        ),
        [],
      );
    } finally {
      await closeServer(started);
    }
  });

  it("serves connections side by side", async () => {
    const started = await start();
    try {
      const listener = started.network.listener();
      const slow = listener.connect();
      await within(slow.write(bytes("GET /metr")), 1000, "the server to read");
      const fast = await exchange(started, "GET /metrics HTTP/1.1\r\n\r\n");
      assert.ok(fast.startsWith("HTTP/1.1 200 OK\r\n"));
      await within(
        slow.write(bytes("ics HTTP/1.1\r\n\r\n")),
        1000,
        "the server to read",
      );
      const rest = decoder.decode(new Uint8Array(await readToEnd(slow, 1000)));
      assert.equal(rest, fast);
      slow.close();
    } finally {
      await closeServer(started);
    }
  });

  it("logs a failed accept and keeps accepting", async () => {
    const started = await start();
    try {
      started.network.listener().fail(errnoError("EMFILE", "Too many files"));
      assert.equal(
        await exchange(started, "GET / HTTP/1.1\r\n\r\n"),
        NOT_FOUND,
      );
      assert.deepEqual(started.records, [
        { level: "info", msg: "metrics listening", address: "127.0.0.1:30000" },
        {
          level: "warn",
          msg: "metrics accept failed",
          error: "Too many files",
        },
      ]);
    } finally {
      await closeServer(started);
    }
  });

  it("reports the bound address and rejects when listening fails", async () => {
    const started = await start();
    try {
      assert.deepEqual(started.server.address, {
        host: "127.0.0.1",
        port: 30000,
      });
    } finally {
      await closeServer(started);
    }
    const network = new FakeNetwork().failListen(
      "127.0.0.1:9464",
      errnoError("EADDRINUSE"),
    );
    await assert.rejects(
      serveMetrics(network, {
        address: { host: "127.0.0.1", port: 9464 },
        metrics: new Metrics(),
      }),
      { code: "EADDRINUSE" },
    );
  });

  it("close() stops listening, closes open connections and clears their timers", async () => {
    // Timers are told apart by their delay: only the server uses 4321 ms.
    const pending = new Set<unknown>();
    const realSetTimeout = globalThis.setTimeout;
    const realClearTimeout = globalThis.clearTimeout;
    const patched = globalThis as unknown as Record<string, unknown>;
    patched.setTimeout = (handler: () => void, delay?: number) => {
      const handle: unknown = realSetTimeout(() => {
        pending.delete(handle);
        handler();
      }, delay);
      if (delay === 4321) pending.add(handle);
      return handle;
    };
    patched.clearTimeout = (handle: never) => {
      pending.delete(handle);
      realClearTimeout(handle);
    };
    let started: Started | undefined;
    try {
      started = await start({ requestTimeout: 4321 });
      const listener = started.network.listener();
      const idle = listener.connect();
      const partial = listener.connect();
      await within(
        partial.write(bytes("GET /metrics HTTP/1.1\r\n")),
        1000,
        "the server to read",
      );
      await waitFor(
        () => pending.size === 2 ? true : undefined,
        1000,
        "two request timers",
      );
      const closing = started.server.close();
      assert.equal(started.server.close(), closing, "close() is idempotent");
      await within(closing, 1000, "close()");
      assert.equal(listener.closed, true);
      assert.deepEqual(listener.accepted.map((conn) => conn.closed), [
        true,
        true,
      ]);
      assert.equal(pending.size, 0, "no request timer left");
      assert.deepEqual(await readToEnd(idle, 1000), []);
      assert.deepEqual(await readToEnd(partial, 1000), []);
      assert.throws(() => listener.connect(), { code: "ECONNREFUSED" });
    } finally {
      patched.setTimeout = realSetTimeout;
      patched.clearTimeout = realClearTimeout;
      if (started !== undefined) await closeServer(started);
    }
  });

  it("close() with nothing open resolves at once", async () => {
    const started = await start();
    await within(started.server.close(), 200, "close()");
    await sleep(1);
    assert.equal(started.network.listener().closed, true);
  });
});
