import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  bind,
  connect,
  connectNative,
  udpAssociate,
} from "../../src/client/edge.ts";
import { SocksReplyError } from "../../src/client/errors.ts";
import type { DialOptions } from "../../src/net/connection.ts";
import { runtimeNetwork } from "../../src/net/runtime_network.ts";
import type { StreamSocket } from "../../src/net/stream_connection.ts";
import { refusedPort } from "../_helpers/e2e/free_port.ts";
import { type Proxy, startProxy } from "../_helpers/e2e/proxy.ts";
import { startEchoServer, type TcpServer } from "../_helpers/e2e/tcp_server.ts";

const SLOW = { timeout: 20_000 };

/**
 * A `dial` as an unknown runtime would give it: the runtime's connection
 * as web streams, names looked up here (as a platform that resolves on
 * connect does). Records what it was asked for and what it closed.
 */
function streamsDial() {
  const dialled: string[] = [];
  let closed = 0;
  const dial = async (address: DialOptions): Promise<StreamSocket> => {
    dialled.push(`${address.host}:${address.port}`);
    const network = await runtimeNetwork();
    const [host] = await network.lookup(address.host);
    const conn = await network.connect({ host: host!, port: address.port });
    return {
      readable: new ReadableStream<Uint8Array>({
        async pull(controller) {
          const chunk = await conn.read();
          if (chunk === null) controller.close();
          else controller.enqueue(chunk);
        },
        cancel: () => conn.close(),
      }),
      writable: new WritableStream<Uint8Array>({
        write: (chunk) => conn.write(chunk),
        close: () => conn.closeWrite(),
        abort: () => conn.close(),
      }),
      close() {
        closed++;
        conn.close();
      },
    };
  };
  return { dial, dialled, closed: () => closed };
}

describe("the edge client calls, outside a Worker", () => {
  let proxy: Proxy;
  let echo: TcpServer;

  before(async () => {
    proxy = await startProxy({
      users: { alice: "s3cret" },
      bindWithoutSession: true,
    });
    echo = await startEchoServer("127.0.0.1");
  });

  after(async () => {
    await proxy.server.close({ gracePeriod: 0 });
    await echo.close();
  });

  it(
    "connect() tunnels through { dial }, handing it the proxy's name",
    SLOW,
    async () => {
      const { dial, dialled } = streamsDial();
      const tunnel = await connect(
        `socks5h://alice:s3cret@localhost:${proxy.endpoint.port}`,
        `localhost:${echo.port}`,
        { dial },
      );
      try {
        assert.deepEqual(dialled, [`localhost:${proxy.endpoint.port}`]);
        const writer = tunnel.writable.getWriter();
        await writer.write(new Uint8Array([1, 2, 3]));
        await writer.close();
        const received: number[] = [];
        for await (const chunk of tunnel.readable) received.push(...chunk);
        assert.deepEqual(received, [1, 2, 3]);
      } finally {
        tunnel.close();
      }
    },
  );

  it("connect() rejects with the proxy's SocksReplyError", SLOW, async () => {
    const { dial, closed } = streamsDial();
    const refused = await refusedPort();
    const error = await connect(
      `socks5h://alice:s3cret@127.0.0.1:${proxy.endpoint.port}`,
      `127.0.0.1:${refused}`,
      { dial },
    ).catch((error: unknown) => error);
    assert.ok(error instanceof SocksReplyError, String(error));
    assert.equal(error.reply, 5);
    assert.equal(closed(), 1);
  });

  it("bind() gets the first reply through { dial }", SLOW, async () => {
    const { dial } = streamsDial();
    const listening = await bind(
      `socks5h://alice:s3cret@127.0.0.1:${proxy.endpoint.port}`,
      "0.0.0.0:0",
      { dial },
    );
    listening.close();
    assert.ok(listening.bound.port > 0);
    await assert.rejects(listening.accepted, /the BIND was closed/);
  });

  it("connect() without { dial } says the runtime's network cannot be found", async () => {
    await assert.rejects(connect("socks5h://127.0.0.1:1", "example.com:80"), {
      message:
        "Cannot find this runtime's network: only Cloudflare Workers is detected without help; pass { dial } or { network } to the client call",
    });
  });

  it(
    "udpAssociate() rejects saying UDP cannot work, and closes the control connection",
    SLOW,
    async () => {
      const { dial, closed } = streamsDial();
      await assert.rejects(
        udpAssociate(
          `socks5h://alice:s3cret@127.0.0.1:${proxy.endpoint.port}`,
          {
            dial,
          },
        ),
        {
          message:
            "Cannot bind a UDP socket on a network given as { dial }: it can only open outbound TCP connections, so UDP ASSOCIATE cannot work there",
        },
      );
      assert.equal(closed(), 1);
    },
  );

  it("connectNative() rejects, pointing at connect()", async () => {
    await assert.rejects(
      connectNative("socks5h://127.0.0.1:1080", "example.com:80"),
      {
        message:
          "Cannot use connectNative() on an edge runtime: it returns a node:net or Deno socket; use connect(), whose tunnel has web streams",
      },
    );
  });
});
