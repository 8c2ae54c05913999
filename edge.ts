/**
 * edgesocks for edge runtimes: the `edgesocks/edge` entry point, which
 * `edgesocks` also resolves to under the `workerd`, `worker` and `browser`
 * export conditions (what wrangler and other Worker bundlers set). The
 * same exports as `edgesocks`, without a module that needs `node:`: the
 * client dials with `cloudflare:sockets` in a Cloudflare Worker, or with
 * the `dial` option elsewhere; `serve()` and UDP ASSOCIATE reject, saying
 * a Worker cannot listen or send UDP.
 *
 * @example
 * ```ts
 * import { connect } from "edgesocks/edge";
 *
 * export default {
 *   async fetch() {
 *     const tunnel = await connect("socks5h://127.0.0.1:1080", "example.com:80");
 *     tunnel.close();
 *     return new Response("ok");
 *   },
 * };
 * ```
 *
 * @module
 */
export * from "./src/wire/mod.ts";
export { serve } from "./src/server/serve_edge.ts";
export { edgeNetwork as runtimeNetwork } from "./src/net/edge_network.ts";
export {
  bind,
  connect,
  connectNative,
  udpAssociate,
} from "./src/client/edge.ts";
export type { NativeSocket, NodeSocketLike } from "./src/client/connect.ts";
export * from "./src/client/common.ts";
export * from "./src/server/mod.ts";
export { VERSION } from "./src/version.ts";
