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

/**
 * The README's examples in "On the edge", as written: the Worker (the `js`
 * block) and the Deno Deploy server (the `ts` block).
 */
function readmeExamples(root: string): { worker: string; deno: string } {
  const readme = readFileSync(join(root, "README.md"), "utf8");
  const edge = readme.slice(readme.indexOf("## On the edge"));
  const section = edge.slice(0, edge.indexOf("\n## ", 1));
  const worker = /```js\n([\s\S]*?)```/.exec(section)?.[1];
  const deno = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  assert.ok(worker !== undefined, "README has no Worker example");
  assert.ok(deno !== undefined, "README has no Deno Deploy example");
  return { worker, deno };
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

/** A server the test started: workerd, or Deno standing in for Deploy. */
interface EdgeServer {
  name: string;
  child: ChildProcess;
  port: number;
  /** What it printed so far. */
  log: string;
}

/** Starts `file` and waits until it accepts connections on `port`. */
async function startEdgeServer(
  name: string,
  file: string,
  args: readonly string[],
  options: { cwd: string; port: number; env?: Record<string, string> },
): Promise<EdgeServer> {
  const child = spawn(file, [...args], {
    cwd: options.cwd,
    env: { ...cleanEnv(), ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const server: EdgeServer = { name, child, port: options.port, log: "" };
  child.stdout!.on("data", (chunk) => server.log += chunk);
  child.stderr!.on("data", (chunk) => server.log += chunk);
  try {
    await untilListening(server);
  } catch (error) {
    await stopEdgeServer(server);
    throw error;
  }
  return server;
}

/** Kills the server by its pid and waits for it to exit. */
async function stopEdgeServer({ child }: EdgeServer): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  process.kill(child.pid, "SIGKILL");
  await exited;
}

/** Resolves once the server accepts a connection; 100 tries, 100 ms apart. */
async function untilListening({ name, child, port, log }: EdgeServer) {
  for (let attempt = 0; attempt < 100; attempt++) {
    if (child.exitCode !== null) {
      throw new Error(`${name} exited with ${child.exitCode}: ${log}`);
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
  throw new Error(`${name} is not listening on 127.0.0.1:${port} after 10 s`);
}

interface Metafile {
  inputs: Record<string, unknown>;
  outputs: Record<
    string,
    { imports: { path: string; kind: string; external?: boolean }[] }
  >;
}

describe("the README's edge examples, run from the packed package", () => {
  let proxy: Proxy | undefined;
  let web: HttpServer | undefined;
  const servers: EdgeServer[] = [];
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
    const { host, port: proxyPort } = proxy.endpoint;
    const proxyUrl = `socks5h://alice:s3cret@${host}:${proxyPort}`;
    const examples = readmeExamples(root);
    writeFileSync(join(project, "worker.js"), examples.worker);
    writeFileSync(join(project, "deploy.ts"), examples.deno);
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
    const workerdPort = await refusedPort();
    writeFileSync(
      join(project, "config.capnp"),
      workerdConfig(workerdPort, proxyUrl),
    );
    servers.push(
      await startEdgeServer("workerd", binary, ["serve", "config.capnp"], {
        cwd: project,
        port: workerdPort,
      }),
    );
    // Deno Deploy runs Deno.serve(); DENO_SERVE_ADDRESS picks its port here.
    const denoPort = await refusedPort();
    servers.push(
      await startEdgeServer(
        "deno",
        join(root, "node_modules/.bin/deno"),
        ["run", "-A", "--node-modules-dir=manual", "deploy.ts"],
        {
          cwd: project,
          port: denoPort,
          env: {
            DENO_SERVE_ADDRESS: `tcp:127.0.0.1:${denoPort}`,
            SOCKS_PROXY: proxyUrl,
          },
        },
      ),
    );
  }

  after(async () => {
    for (const server of servers) await stopEdgeServer(server);
    await proxy?.server.close({ gracePeriod: 0 });
    await web?.close();
    removePacked();
  });

  async function get(name: string, url: string) {
    const server = servers.find((server) => server.name === name)!;
    const response = await fetch(
      `http://127.0.0.1:${server.port}/?url=${encodeURIComponent(url)}`,
      { signal: AbortSignal.timeout(10_000) },
    );
    return {
      status: response.status,
      body: await response.text(),
      log: server.log,
    };
  }

  function accessTo(destination: string, count: number) {
    return proxy!.logger.waitFor(
      () =>
        proxy!.logger.named("access").filter((r) =>
          r.destination === destination
        ).length >= count,
      5_000,
      `${count} access records of ${destination}`,
    ).then(() =>
      proxy!.logger.named("access").filter((r) => r.destination === destination)
    );
  }

  it(
    "bundles the Worker with no node: module and cloudflare:sockets as the one import",
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

  // The workerd tests come first: the access records count them alone.
  for (const [name, runs] of [["workerd", 1], ["deno", 2]] as const) {
    it(
      `${name}: fetches a page by name through socks5h:// with a login`,
      SLOW,
      async () => {
        await setUp();
        const destination = `localhost:${web!.port}`;
        const { status, body, log } = await get(name, `http://${destination}/`);
        assert.equal(status, 200, log);
        assert.match(body, /^HTTP\/1\.1 200 OK\r\n/);
        assert.ok(body.endsWith(`\r\n\r\n${PAGE}`), body);
        // The name went to the proxy unresolved, and the login with it.
        const records = await accessTo(destination, runs);
        assert.equal(records.length, runs);
        assert.equal(records[runs - 1]!.user, "alice");
        assert.equal(records[runs - 1]!.reply, 0);
      },
    );

    it(`${name}: fetches a page by IP address`, SLOW, async () => {
      await setUp();
      const destination = `127.0.0.1:${web!.port}`;
      const { status, body, log } = await get(name, `http://${destination}/`);
      assert.equal(status, 200, log);
      assert.ok(body.endsWith(`\r\n\r\n${PAGE}`), body);
      const records = await accessTo(destination, runs);
      assert.equal(records.length, runs);
      assert.equal(records[runs - 1]!.reply, 0);
    });

    it(
      `${name}: gets a SocksReplyError with the reply code for a refused destination`,
      SLOW,
      async () => {
        await setUp();
        const { status, body, log } = await get(
          name,
          `http://127.0.0.1:${refused}/`,
        );
        assert.equal(status, 502, log);
        // RFC 1928 §6: X'05' connection refused.
        assert.deepEqual(JSON.parse(body), {
          error: "SocksReplyError",
          reply: 5,
        });
      },
    );
  }
});
