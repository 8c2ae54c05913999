import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { hashPassword } from "../../mod.ts";
import { runCli, startCli } from "../_helpers/e2e/cli_process.ts";
import { parseExposition } from "../_helpers/e2e/exposition.ts";
import { type Proxy, socksConnect, startProxy } from "../_helpers/e2e/proxy.ts";
import { hex, RawSocket } from "../_helpers/e2e/raw_socket.ts";
import {
  type Credentials,
  type Endpoint,
  greeting,
  readReply,
  request,
  userPass,
} from "../_helpers/e2e/socks_raw.ts";
import {
  assertClosedUnanswered,
  connectFrom,
  negotiate,
  socksRequest,
} from "../_helpers/e2e/socks_session.ts";
import { startEchoServer, type TcpServer } from "../_helpers/e2e/tcp_server.ts";

const alice: Credentials = { username: "alice", password: "s3cret" };
const encoder = new TextEncoder();

async function assertEchoes(raw: RawSocket, text: string): Promise<void> {
  const payload = encoder.encode(text);
  await raw.write(payload);
  assert.deepEqual(await raw.read(payload.length), payload);
}

// Logs in with a wrong password: status 0x01, then the server closes.
async function failLogin(proxy: Endpoint, from?: string): Promise<RawSocket> {
  const raw = await connectFrom(proxy, from);
  try {
    const status = await negotiate(raw, { ...alice, password: "wrong" });
    assert.equal(status, 0x01, "a wrong password is refused");
    assert.equal((await raw.readToEnd()).length, 0, "closed after 01 01");
    return raw;
  } finally {
    raw.destroy();
  }
}

function samplesOf(proxy: Proxy): Map<string, number> {
  return parseExposition(proxy.server.metrics.render());
}

describe("allow-no-auth networks", () => {
  let echo: TcpServer;
  let proxy: Proxy;

  before(async () => {
    echo = await startEchoServer("127.0.0.1");
    proxy = await startProxy({
      users: { alice: alice.password },
      allowNoAuth: ["127.0.0.2/32"],
    });
  });

  after(async () => {
    await proxy?.server.close({ gracePeriod: 0 });
    await echo?.close();
  });

  it("a client from the network offering only no-auth gets 05 00 and is served", async () => {
    const { raw, reply } = await socksRequest(proxy.endpoint, echo, {
      from: "127.0.0.2",
    });
    try {
      assert.equal(reply.reply, 0x00);
      await assertEchoes(raw, "no login needed");
    } finally {
      raw.destroy();
    }
    const record = await proxy.logger.waitFor(
      (r) => r.msg === "access" && r.client === `127.0.0.2:${raw.localPort}`,
      5_000,
      "the access record",
    );
    assert.deepEqual([record.user, record.reply], [null, 0x00]);
  });

  it("a client from elsewhere offering only no-auth gets 05 FF and is closed", async () => {
    const raw = await connectFrom(proxy.endpoint, "127.0.0.1");
    try {
      await raw.write(greeting([0x00]));
      assert.equal(hex(await raw.read(2)), "05 ff");
      assert.equal((await raw.readToEnd()).length, 0);
    } finally {
      raw.destroy();
    }
    const record = await proxy.logger.waitFor(
      (r) =>
        r.msg === "handshake failed" &&
        r.client === `127.0.0.1:${raw.localPort}`,
      5_000,
      "the handshake failure",
    );
    assert.equal(record.reason, "no_acceptable_method");
  });

  it("a client from the network offering both methods logs in", async () => {
    const raw = await connectFrom(proxy.endpoint, "127.0.0.2");
    try {
      await raw.write(greeting([0x00, 0x02]));
      assert.equal(hex(await raw.read(2)), "05 02");
      await raw.write(userPass(alice));
      assert.equal(hex(await raw.read(2)), "01 00");
      await raw.write(request(echo));
      assert.equal((await readReply(raw)).reply, 0x00);
      await assertEchoes(raw, "logged in anyway");
    } finally {
      raw.destroy();
    }
    const record = await proxy.logger.waitFor(
      (r) => r.msg === "access" && r.client === `127.0.0.2:${raw.localPort}`,
      5_000,
      "the access record",
    );
    assert.equal(record.user, "alice");
  });
});

describe("login throttling", () => {
  let echo: TcpServer;

  before(async () => {
    echo = await startEchoServer("127.0.0.1");
  });

  after(async () => {
    await echo?.close();
  });

  it("after 3 failed logins the address is refused at accept, right password or not", async () => {
    const proxy = await startProxy({
      users: { alice: alice.password },
      loginThrottle: { failures: 3, window: 60_000, block: 60_000 },
    });
    try {
      const failed = [];
      for (let i = 0; i < 3; i++) failed.push(await failLogin(proxy.endpoint));
      const blocked = await connectFrom(proxy.endpoint);
      try {
        await assertClosedUnanswered(blocked);
      } finally {
        blocked.destroy();
      }
      const throttled = proxy.logger.named("login throttled");
      assert.equal(throttled.length, 1);
      assert.equal(throttled[0]!.client, `127.0.0.1:${failed[2]!.localPort}`);
      assert.equal(throttled[0]!.blocked_ms, 60_000);
      const refused = await proxy.logger.waitFor(
        (r) => r.msg === "refused",
        5_000,
        "the refused record",
      );
      assert.equal(refused.client, `127.0.0.1:${blocked.localPort}`);
      assert.equal(refused.reason, "throttled");
      // Another address is not blocked.
      const { raw, reply } = await socksRequest(proxy.endpoint, echo, {
        from: "127.0.0.2",
        credentials: alice,
      });
      try {
        assert.equal(reply.reply, 0x00);
        await assertEchoes(raw, "other address");
      } finally {
        raw.destroy();
      }
      const samples = samplesOf(proxy);
      const expected: [string, number][] = [
        ["edgesocks_logins_throttled_total", 1],
        ["edgesocks_auth_failures_total", 3],
        ['edgesocks_handshakes_failed_total{reason="auth_failed"}', 3],
        ['edgesocks_connections_refused_total{reason="throttled"}', 1],
        ["edgesocks_connections_accepted_total", 4],
      ];
      for (const [key, value] of expected) {
        assert.equal(samples.get(key), value, key);
      }
    } finally {
      await proxy.server.close({ gracePeriod: 0 });
    }
  });

  it("a good login forgets earlier failures", async () => {
    const proxy = await startProxy({
      users: { alice: alice.password },
      loginThrottle: { failures: 3, window: 60_000, block: 60_000 },
    });
    try {
      for (let round = 0; round < 2; round++) {
        await failLogin(proxy.endpoint);
        await failLogin(proxy.endpoint);
        const { raw, reply } = await socksRequest(proxy.endpoint, echo, {
          credentials: alice,
        });
        try {
          assert.equal(reply.reply, 0x00, `round ${round}`);
        } finally {
          raw.destroy();
        }
      }
      assert.equal(proxy.logger.named("login throttled").length, 0);
      assert.equal(samplesOf(proxy).get("edgesocks_logins_throttled_total"), 0);
    } finally {
      await proxy.server.close({ gracePeriod: 0 });
    }
  });
});

describe("hashed and plaintext users through the CLI", () => {
  let echo: TcpServer;
  let dir = "";

  before(async () => {
    echo = await startEchoServer("127.0.0.1");
    dir = await mkdtemp(join(tmpdir(), "edgesocks-auth-"));
  });

  after(async () => {
    await echo?.close();
    if (dir !== "") await rm(dir, { recursive: true, force: true });
  });

  it("serves hashed, plaintext and hash-password users; warns about plaintext only", async () => {
    const made = await runCli(
      ["hash-password", "--user", "carol", "--iterations", "1000"],
      { stdin: "c4rol-pw\n" },
    );
    assert.equal(made.code, 0, made.stderr);
    assert.match(
      made.stdout,
      /^carol:pbkdf2-sha256\$1000\$[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=\n$/,
    );
    const aliceEntry = await hashPassword(alice.password, { iterations: 1000 });
    const file = join(dir, "users.txt");
    await writeFile(
      file,
      `# the team\nalice:${aliceEntry}\nbob:plain-pw\n${made.stdout}`,
    );
    const cli = await startCli([
      "--listen",
      "127.0.0.1:0",
      "--users",
      file,
      "--log-format",
      "json",
    ]);
    try {
      const proxy = { host: "127.0.0.1", port: cli.port };
      const logins: Credentials[] = [
        alice,
        { username: "bob", password: "plain-pw" },
        { username: "carol", password: "c4rol-pw" },
      ];
      for (const credentials of logins) {
        const { socket } = await socksConnect(proxy, echo, credentials);
        const raw = new RawSocket(socket);
        try {
          await assertEchoes(raw, `hello from ${credentials.username}`);
        } finally {
          raw.destroy();
        }
      }
      await assert.rejects(
        socksConnect(proxy, echo, { ...alice, password: "s3cret!" }),
      );
      // The stored entry is not a password.
      const raw = await RawSocket.connect(proxy.host, proxy.port);
      try {
        const status = await negotiate(raw, {
          username: "alice",
          password: aliceEntry,
        });
        assert.equal(status, 0x01);
      } finally {
        raw.destroy();
      }
      const access = await cli.waitForRecord(
        (r) => r.msg === "access" && r.user === "carol",
        "carol's access record",
      );
      assert.equal(access.reply, 0x00);
    } finally {
      assert.equal(await cli.stop(), 0);
    }
    const warnings = cli.records().filter((r) =>
      String(r.msg).includes("plaintext")
    );
    assert.deepEqual(
      warnings.map((r) => [r.level, r.user, r.file]),
      [["warn", "bob", file]],
    );
    assert.deepEqual(
      cli.records().filter((r) => r.msg === "access").map((r) => r.user)
        .sort(),
      ["alice", "bob", "carol"],
    );
    for (const secret of ["s3cret", "plain-pw", "c4rol-pw"]) {
      assert.ok(!cli.stderr().includes(secret), `${secret} reached the log`);
    }
  });
});
