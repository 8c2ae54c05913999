/**
 * The files of a project that depends on the packed `edgesocks`, written
 * into it by the package test. They are strings rather than files under
 * tests/ because they import `edgesocks`, which only that project resolves.
 *
 * @module
 */

/** The page the test's HTTP server serves at `/`. */
export const PAGE: string = "hello through the packed edgesocks\n";

/**
 * `package.json` of the consumer project.
 *
 * @example
 * ```ts
 * import { CONSUMER_PACKAGE_JSON } from "./_consumer.ts";
 * console.log(JSON.parse(CONSUMER_PACKAGE_JSON).type); // "module"
 * ```
 */
export const CONSUMER_PACKAGE_JSON: string = `${
  JSON.stringify(
    { name: "edgesocks-consumer", private: true, type: "module" },
    null,
    2,
  )
}\n`;

/**
 * Run by node, bun and deno with the HTTP server's port: checks that
 * `serve()` picked this runtime's adapter, makes one SOCKS5 CONNECT with the
 * raw codecs through a server it starts, fetches `/`, closes, and prints one
 * JSON line. It must exit by itself: a handle left open is a failure (the
 * watchdog exits with 3).
 *
 * @example
 * ```ts
 * import { CONSUMER_MJS } from "./_consumer.ts";
 * console.log(CONSUMER_MJS.includes('from "edgesocks/wire"')); // true
 * ```
 */
export const CONSUMER_MJS: string = `\
import * as net from "node:net";
import process from "node:process";
import { setTimeout } from "node:timers";
import { runtimeNetwork, serve, VERSION } from "edgesocks";
import {
  AddressType,
  AuthMethod,
  Command,
  concat,
  decodeMethodSelection,
  decodeReply,
  encodeGreeting,
  encodeRequest,
  fromUtf8,
  utf8,
} from "edgesocks/wire";

setTimeout(() => {
  console.error("consumer: not done after 10 s");
  process.exit(3);
}, 10_000).unref();

const runtime = process.versions.deno !== undefined
  ? "deno"
  : process.versions.bun !== undefined
  ? "bun"
  : "node";
const httpPort = Number(process.argv[2]);

// The module serve() loads is the one at this path, and no other adapter.
const expected = new URL(
  \`./node_modules/edgesocks/esm/src/net/adapters/\${runtime}.js\`,
  import.meta.url,
);
const sameAdapter =
  (await runtimeNetwork()) === (await import(expected.href)).network;

const server = await serve({ listen: "127.0.0.1:0", logger: { log() {} } });
const socket = net.connect({ host: "127.0.0.1", port: server.addresses[0].port });
let buffer = new Uint8Array(0);
let ended = false;
let wake = () => {};
socket.on("data", (chunk) => {
  buffer = concat([buffer, new Uint8Array(chunk)]);
  wake();
});
socket.on("end", () => {
  ended = true;
  wake();
});
socket.on("error", (error) => {
  console.error(error);
  process.exit(4);
});
const more = () => new Promise((resolve) => wake = resolve);

async function next(decode) {
  for (;;) {
    const result = decode(buffer);
    if (result.status === "done") {
      buffer = buffer.subarray(result.bytesRead);
      return result.value;
    }
    if (result.status === "invalid") throw new Error(result.error.message);
    if (ended) throw new Error("the proxy closed early");
    await more();
  }
}

socket.write(encodeGreeting({ methods: [AuthMethod.NoAuth] }));
const { method } = await next(decodeMethodSelection);
socket.write(encodeRequest({
  command: Command.Connect,
  destination: { type: AddressType.IPv4, host: "127.0.0.1", port: httpPort },
}));
const { reply } = await next(decodeReply);
socket.write(utf8("GET / HTTP/1.0\\r\\nHost: 127.0.0.1\\r\\n\\r\\n"));
while (!ended) await more();
const response = fromUtf8(buffer);
socket.destroy();
await server.close();
console.log(JSON.stringify({
  runtime,
  version: VERSION,
  sameAdapter,
  method,
  reply,
  status: response.slice(0, response.indexOf("\\r\\n")),
  body: response.slice(response.indexOf("\\r\\n\\r\\n") + 4),
}));
`;

/**
 * Type-checked with `tsc --noEmit`, never run. Each `@ts-expect-error`
 * must meet an error, so types that resolved to `any` fail the check too.
 *
 * @example
 * ```ts
 * import { CONSUMER_TS } from "./_consumer.ts";
 * console.log(CONSUMER_TS.includes("@ts-expect-error")); // true
 * ```
 */
export const CONSUMER_TS: string = `\
import {
  decodeRequest,
  serve,
  type ServeOptions,
  type Server,
  VERSION,
} from "edgesocks";
import {
  AddressType,
  Command,
  type Decoded,
  decodeRequest as decodeWireRequest,
  encodeRequest,
  type Request,
} from "edgesocks/wire";
import {
  connect as edgeConnect,
  type ConnectOptions,
  type SocksConnection,
} from "edgesocks/edge";

const options: ServeOptions = {
  listen: ["127.0.0.1:0", { host: "::1", port: 0 }],
  users: new Map([["alice", "s3cret"]]),
  connectTimeout: 5_000,
};
const server: Server = await serve(options);
const port: number = server.addresses[0]!.port;
const bytes: Uint8Array = encodeRequest({
  command: Command.Connect,
  destination: { type: AddressType.Domain, host: "example.com", port },
});
const decoded: Decoded<Request> = decodeRequest(bytes);
if (decoded.status === "done") {
  const host: string = decoded.value.destination.host;
  console.log(host, decoded.bytesRead);
} else if (decoded.status === "partial") {
  console.log(decoded.needed);
}
// "./wire" re-exports the very codecs "." does.
const sameCodec: typeof decodeRequest = decodeWireRequest;
const version: string = VERSION;
console.log(sameCodec, version);
await server.close();

// "./edge": the client with a dial function of the caller's runtime.
const viaDial: ConnectOptions = {
  dial: () => Promise.reject(new Error("no sockets in this example")),
};
const edgeTunnel: Promise<SocksConnection> = edgeConnect(
  "socks5h://127.0.0.1:1080",
  "example.com:80",
  viaDial,
);
edgeTunnel.catch(() => {});

// @ts-expect-error: listen takes addresses, not a bare port
await serve({ listen: 1080 });
// @ts-expect-error: timeouts are milliseconds, not text
await serve({ connectTimeout: "10s" });
// @ts-expect-error: only a "done" result has a value
console.log(decodeRequest(bytes).value);
// @ts-expect-error: the adapters are not part of the exports map
await import("edgesocks/esm/src/net/adapters/node.js");
`;

/**
 * tsconfig.json variants for the consumer: a Node project (`@types/node`
 * from `typeRoots`) and a web-style one (DOM types, as Deno or an edge
 * runtime provides), both as strict as this repository.
 *
 * @example
 * ```ts
 * import { consumerTsconfig } from "./_consumer.ts";
 * const config = JSON.parse(consumerTsconfig("node", "/repo/node_modules/@types"));
 * console.log(config.compilerOptions.moduleResolution); // "NodeNext"
 * ```
 */
export function consumerTsconfig(
  flavour: "node" | "web",
  typeRoots: string,
): string {
  return `${
    JSON.stringify(
      {
        compilerOptions: {
          target: "ES2022",
          module: "NodeNext",
          moduleResolution: "NodeNext",
          lib: flavour === "node" ? ["ES2022"] : ["ES2022", "DOM"],
          types: flavour === "node" ? ["node"] : [],
          typeRoots: [typeRoots],
          strict: true,
          noUncheckedIndexedAccess: true,
          exactOptionalPropertyTypes: true,
          verbatimModuleSyntax: true,
          // The package's declarations are checked too.
          skipLibCheck: false,
          noEmit: true,
        },
        files: ["consumer.ts"],
      },
      null,
      2,
    )
  }\n`;
}
