import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  type HttpServer,
  startHttpServer,
} from "../_helpers/e2e/http_server.ts";
import { type Proxy, startProxy } from "../_helpers/e2e/proxy.ts";
import { run } from "../_helpers/e2e/run.ts";

const CURL = "/usr/bin/curl";
const page = "hello through edgesocks\n";

function curl(proxyUrl: string, url: string) {
  return run(CURL, ["-sS", "--max-time", "10", "--proxy", proxyUrl, url]);
}

describe("curl through the proxy", () => {
  let web: HttpServer;
  let open: Proxy;
  let login: Proxy;

  before(async () => {
    web = await startHttpServer("127.0.0.1", { "/hello": page });
    open = await startProxy({});
    login = await startProxy({ users: { alice: "s3cret" } });
  });

  after(async () => {
    await open?.server.close({ gracePeriod: 0 });
    await login?.server.close({ gracePeriod: 0 });
    await web?.close();
  });

  it("fetches a page with socks5h:// and a login, the proxy resolving the name", async () => {
    const url = `http://localhost:${web.port}/hello`;
    const proxyUrl = `socks5h://alice:s3cret@127.0.0.1:${login.endpoint.port}`;
    const result = await curl(proxyUrl, url);
    assert.equal(result.stderr, "");
    assert.equal(result.code, 0);
    assert.equal(result.stdout, page);
    const record = await login.logger.waitFor(
      (r) => r.msg === "access",
      5_000,
      "the access record",
    );
    assert.equal(record.user, "alice");
    assert.equal(record.destination, `localhost:${web.port}`);
    assert.equal(record.remote, `127.0.0.1:${web.port}`);
    assert.equal(record.reply, 0x00);
    assert.ok(
      (record.down as number) > page.length,
      "down counts the HTTP response",
    );
  });

  it("fetches a page without a login", async () => {
    const url = `http://127.0.0.1:${web.port}/hello`;
    const result = await curl(`socks5h://127.0.0.1:${open.endpoint.port}`, url);
    assert.equal(result.stderr, "");
    assert.equal(result.code, 0);
    assert.equal(result.stdout, page);
    const record = await open.logger.waitFor(
      (r) => r.msg === "access",
      5_000,
      "the access record",
    );
    assert.equal(record.user, null);
    assert.equal(record.destination, `127.0.0.1:${web.port}`);
  });

  it("fails with curl's proxy error (97) on a wrong password, reaching nothing", async () => {
    const before = web.requests.length;
    const url = `http://localhost:${web.port}/hello`;
    const proxyUrl = `socks5h://alice:wrong@127.0.0.1:${login.endpoint.port}`;
    const result = await curl(proxyUrl, url);
    assert.equal(result.code, 97, result.stderr);
    assert.equal(result.stdout, "");
    assert.equal(web.requests.length, before);
  });
});
