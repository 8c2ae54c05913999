/**
 * The login check the server calls for RFC 1929 credentials.
 * `credentialsAuthenticator` (credentials.ts) builds one from a users
 * table; embedders may supply their own.
 *
 * @module
 */

import type { HostPort } from "../wire/address.ts";

/**
 * Decides whether a username and password may log in. May be async (a
 * database, a hash); `client` is the peer's address.
 *
 * @example
 * ```ts
 * import type { Authenticate } from "./authenticate.ts";
 * const authenticate: Authenticate = (username, password) =>
 *   username === "alice" && password === "s3cret";
 * ```
 */
export type Authenticate = (
  username: string,
  password: string,
  client: HostPort,
) => boolean | Promise<boolean>;
