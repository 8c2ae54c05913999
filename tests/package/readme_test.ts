import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import * as net from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { serve } from "../../src/server/serve.ts";
import type { Server } from "../../src/server/server.ts";
import { exec } from "./_exec.ts";
import { packOnce } from "./_packed.ts";

const SLOW = { timeout: 120_000 };

// The README's Library examples, in order, exactly as written.
function libraryExamples(root: string): string[] {
  const readme = readFileSync(join(root, "README.md"), "utf8");
  const library = readme.slice(readme.indexOf("## Library"));
  const section = library.slice(0, library.indexOf("\n## ", 1));
  return [...section.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

describe("README's Library examples, run from the installed package", () => {
  let proxy: Server;
  let web: net.Server;
  let webPort = 0;

  before(async () => {
    // A stand-in for example.com: answers any request with a status line.
    web = net.createServer((socket) => {
      socket.on("error", () => {});
      socket.once("data", () => socket.end("HTTP/1.0 200 OK\r\n\r\n"));
    });
    await new Promise<void>((resolve) => web.listen(0, "127.0.0.1", resolve));
    webPort = (web.address() as net.AddressInfo).port;
    proxy = await serve({
      listen: "127.0.0.1:0",
      users: { alice: "s3cret" },
      logger: { log() {} },
    });
  });

  after(async () => {
    await proxy.close({ gracePeriod: 0 });
    await new Promise((resolve) => web.close(resolve));
  });

  it("has a server and a client example", SLOW, async () => {
    const [server, client] = libraryExamples((await packOnce()).root);
    assert.match(server ?? "", /await serve\(/);
    assert.match(client ?? "", /await connect\(/);
  });

  const runtimes = {
    node: (_root: string) => ["node"],
    bun: (root: string) => [join(root, "node_modules/.bin/bun")],
    deno: (root: string) => [
      join(root, "node_modules/.bin/deno"),
      "run",
      "-A",
      "--node-modules-dir=manual",
    ],
  };
  for (const [runtime, command] of Object.entries(runtimes)) {
    it(`runs both on ${runtime}`, SLOW, async () => {
      const { project, root } = await packOnce();
      const [server, client] = libraryExamples(root);
      // Only the addresses change: the client's proxy and destination are
      // this test's, since the examples name a proxy on :1080 and a site.
      const local = client!
        .replace("127.0.0.1:1080", `127.0.0.1:${proxy.addresses[0]!.port}`)
        .replace("example.com:80", `127.0.0.1:${webPort}`);
      assert.notEqual(local, client, "the client example names its addresses");
      const [file, ...args] = command(root);
      const outputs = [];
      const examples: [string, string][] = [["server", server!], [
        "client",
        local,
      ]];
      for (const [name, code] of examples) {
        const path = join(project, `readme_${name}_${runtime}.mjs`);
        writeFileSync(path, code);
        const result = await exec(file!, [...args, path], {
          cwd: project,
          timeout: 20_000,
        });
        assert.equal(result.code, 0, `${name}: ${result.stderr}`);
        outputs.push(result.stdout);
      }
      const [serverOut, clientOut] = outputs;
      assert.match(
        serverOut!,
        /host: ['"]127\.0\.0\.1['"],\s+port: [1-9][0-9]*/,
      );
      assert.match(serverOut!, /\n0\n$/);
      assert.equal(clientOut, "HTTP/1.0 200 OK\n");
    });
  }
});
