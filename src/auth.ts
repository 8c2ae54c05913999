/**
 * Checking RFC 1929 credentials against a table of users, in constant time.
 *
 * @module
 */

import { timingSafeEqual, utf8 } from "./bytes.ts";
import type { HostPort } from "./wire/address.ts";

/**
 * Decides whether a username and password may log in. May be async (a
 * database, a hash); `client` is the peer's address.
 *
 * @example
 * ```ts
 * import type { Authenticate } from "./auth.ts";
 * const authenticate: Authenticate = (username, password) =>
 *   username === "alice" && password === "s3cret";
 * ```
 */
export type Authenticate = (
  username: string,
  password: string,
  client: HostPort,
) => boolean | Promise<boolean>;

/**
 * An {@linkcode Authenticate} over a fixed table of users. Passwords are
 * compared in constant time, and an unknown user costs the same as a wrong
 * password, so timing tells an attacker neither.
 *
 * @example
 * ```ts
 * import { usersAuthenticator } from "./auth.ts";
 * const authenticate = usersAuthenticator(new Map([["alice", "s3cret"]]));
 * console.log(authenticate("alice", "s3cret", { host: "127.0.0.1", port: 5000 })); // true
 * ```
 */
export function usersAuthenticator(
  users: ReadonlyMap<string, string>,
): (username: string, password: string, client: HostPort) => boolean {
  const table = new Map<string, Uint8Array>();
  for (const [name, password] of users) table.set(name, utf8(password));
  const decoy = new Uint8Array(32);
  return (username, password) => {
    const expected = table.get(username);
    const matches = timingSafeEqual(utf8(password), expected ?? decoy);
    return expected !== undefined && matches;
  };
}
