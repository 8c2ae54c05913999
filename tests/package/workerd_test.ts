import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import * as net from "node:net";
import { join } from "node:path";
import process from "node:process";
import { after, describe, it } from "node:test";
import { refusedPort } from "../_helpers/e2e/free_port.ts";
import {
  type HttpServer,
  startHttpServer,
} from "../_helpers/e2e/http_server.ts";
import { type Proxy, startProxy } from "../_helpers/e2e/proxy.ts";
import { PAGE } from "./_consumer.ts";
import { cleanEnv, execOk } from "./_exec.ts";
import { packOnce, removePacked } from "./_packed.ts";

// The first test builds, packs and installs the package (up to ~15 s).
const SLOW = { timeout: 120_000 };

/** The README's Worker: the first `js` block of "On the edge", as written. */
function readmeWorker(root: string): string {
  const readme = readFileSync(join(root, "README.md"), "utf8");
  const edge = readme.slice(readme.indexOf("## On the edge"));
  const section = edge.slice(0, edge.indexOf("\n## ", 1));
  const block = /```js\n([\s\S]*?)```/.exec(section)?.[1];
  assert.ok(block !== undefined, "README has no Worker example");
  return block;
}

/** workerd's config: the Worker on `port`, its outbound TCP let reach loopback. */
function workerdConfig(port: number, proxyUrl: string): string {
  return `using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "main", worker = .worker),
    # The Worker's outbound network, which cloudflare:sockets dials
    # through: by default only public addresses.
    (name = "internet", network = (allow = ["public", "local", "private"])),
  ],
  sockets = [(name = "http", address = "127.0.0.1:${port}", http = (), service = "main")],
);

const worker :Workerd.Worker = (
  modules = [(name = "worker.js", esModule = embed "bundle/worker.js")],
  compatibilityDate = "2025-01-01",
  bindings = [(name = "SOCKS_PROXY", text = ${JSON.stringify(proxyUrl)})],
);
`;
}

/** Resolves once `port` accepts a connection; 100 tries, 100 ms apart. */
async function untilListening(port: number, child: ChildProcess) {
  for (let attempt = 0; attempt < 100; attempt++) {
    if (child.exitCode !== null) {
      throw new Error(`workerd exited with ${child.exitCode}`);
    }
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ host: "127.0.0.1", port }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (open) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`workerd is not listening on 127.0.0.1:${port} after 10 s`);
}

interface Metafile {
  inputs: Record<string, unknown>;
  outputs: Record<
    string,
    { imports: { path: string; kind: string; external?: boolean }[] }
  >;
}

describe("the README's Worker, bundled from the package and run by workerd", () => {
  let proxy: Proxy | undefined;
  let web: HttpServer | undefined;
  let workerd: ChildProcess | undefined;
  let workerdLog = "";
  let port = 0;
  let refused = 0;
  let bundle = "";
  let metafile: Metafile | undefined;

  // Set up by the first test rather than before(): Bun gives hooks 5 s,
  // and packing alone can take longer.
  let ready: Promise<void> | undefined;
  const setUp = () => ready ??= start();

  async function start() {
    const { root, project } = await packOnce();
    const binary = join(root, "node_modules/.bin/workerd");
    // No silent skip: the Worker test needs the real runtime.
    assert.ok(existsSync(binary), `workerd is not installed at ${binary}`);
    web = await startHttpServer("127.0.0.1", { "/": PAGE });
    proxy = await startProxy({ users: { alice: "s3cret" } });
    refused = await refusedPort();
    writeFileSync(join(project, "worker.js"), readmeWorker(root));
    // What wrangler does: the Worker conditions, cloudflare:* left to workerd.
    await execOk(join(root, "node_modules/.bin/esbuild"), [
      "worker.js",
      "--bundle",
      "--format=esm",
      "--platform=neutral",
      "--conditions=workerd,worker,browser",
      "--external:cloudflare:*",
      "--outfile=bundle/worker.js",
      "--metafile=bundle/meta.json",
      "--log-level=warning",
    ], { cwd: project, timeout: 60_000 });
    bundle = readFileSync(join(project, "bundle/worker.js"), "utf8");
    metafile = JSON.parse(
      readFileSync(join(project, "bundle/meta.json"), "utf8"),
    );
    port = await refusedPort();
    const { host, port: proxyPort } = proxy.endpoint;
    writeFileSync(
      join(project, "config.capnp"),
      workerdConfig(port, `socks5h://alice:s3cret@${host}:${proxyPort}`),
    );
    workerd = spawn(binary, ["serve", "config.capnp"], {
      cwd: project,
      env: cleanEnv(),
      stdio: ["ignore", "pipe", "pipe"],
    });
    workerd.stdout!.on("data", (chunk) => workerdLog += chunk);
    workerd.stderr!.on("data", (chunk) => workerdLog += chunk);
    await untilListening(port, workerd);
  }

  after(async () => {
    if (workerd?.pid !== undefined && workerd.exitCode === null) {
      const exited = new Promise((resolve) => workerd!.once("exit", resolve));
      process.kill(workerd.pid, "SIGKILL");
      await exited;
    }
    await proxy?.server.close({ gracePeriod: 0 });
    await web?.close();
    removePacked();
  });

  async function get(url: string) {
    const response = await fetch(
      `http://127.0.0.1:${port}/?url=${encodeURIComponent(url)}`,
      { signal: AbortSignal.timeout(10_000) },
    );
    return {
      status: response.status,
      body: await response.text(),
    };
  }

  function accessTo(destination: string) {
    return proxy!.logger.waitFor(
      (r) => r.msg === "access" && r.destination === destination,
      5_000,
      `the access record of ${destination}`,
    ).then(() =>
      proxy!.logger.named("access").filter((r) => r.destination === destination)
    );
  }

  it(
    "bundles with no node: module and cloudflare:sockets as the one import",
    SLOW,
    async () => {
      await setUp();
      const imports = Object.values(metafile!.outputs).flatMap((output) =>
        output.imports
      );
      assert.deepEqual(imports, [
        { path: "cloudflare:sockets", kind: "dynamic-import", external: true },
      ]);
      assert.doesNotMatch(bundle, /["']node:/);
      const inputs = Object.keys(metafile!.inputs);
      assert.ok(
        inputs.some((file) => file.endsWith("edgesocks/esm/edge.js")),
        inputs.join("\n"),
      );
      assert.deepEqual(
        inputs.filter((file) =>
          /\/(adapters\/(node|deno|bun)|native_(node|deno)|runtime_network)\.js$/
            .test(file)
        ),
        [],
      );
    },
  );

  it(
    "fetches a page by name through socks5h:// with a login",
    SLOW,
    async () => {
      await setUp();
      const destination = `localhost:${web!.port}`;
      const { status, body } = await get(`http://${destination}/`);
      assert.equal(status, 200, workerdLog);
      assert.match(body, /^HTTP\/1\.1 200 OK\r\n/);
      assert.ok(body.endsWith(`\r\n\r\n${PAGE}`), body);
      // The name went to the proxy unresolved, and the login with it.
      const records = await accessTo(destination);
      assert.equal(records.length, 1);
      assert.equal(records[0]!.user, "alice");
      assert.equal(records[0]!.reply, 0);
    },
  );

  it("fetches a page by IP address", SLOW, async () => {
    await setUp();
    const destination = `127.0.0.1:${web!.port}`;
    const { status, body } = await get(`http://${destination}/`);
    assert.equal(status, 200, workerdLog);
    assert.ok(body.endsWith(`\r\n\r\n${PAGE}`), body);
    const records = await accessTo(destination);
    assert.equal(records.length, 1);
    assert.equal(records[0]!.reply, 0);
  });

  it(
    "gets a SocksReplyError with the reply code for a refused destination",
    SLOW,
    async () => {
      await setUp();
      const { status, body } = await get(`http://127.0.0.1:${refused}/`);
      assert.equal(status, 502, workerdLog);
      // RFC 1928 §6: X'05' connection refused.
      assert.deepEqual(JSON.parse(body), {
        error: "SocksReplyError",
        reply: 5,
      });
    },
  );
});
