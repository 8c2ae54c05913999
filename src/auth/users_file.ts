/**
 * The users file: one `NAME:SECRET` a line, SECRET an entry from
 * `hashPassword()` (`./credentials.ts`) or a plaintext password.
 *
 * ```text
 * # name:secret — the secret may hold colons and may be empty
 * alice:pbkdf2-sha256$600000$…$…
 * bob:plain:text
 * ```
 *
 * @module
 */

import { utf8 } from "../bytes.ts";
import {
  parsePasswordHash,
  PASSWORD_HASH_SCHEME,
  PasswordHashError,
} from "./credentials.ts";

/**
 * A users file that cannot be used. The message reads
 * `FILE: line N: what is wrong` (`FILE: what is wrong` for the file as a
 * whole) and never quotes a secret.
 *
 * @example
 * ```ts
 * import { parseUsersFile, UsersFileError } from "./users_file.ts";
 * try {
 *   parseUsersFile("alice\n", "users.txt");
 * } catch (error) {
 *   if (error instanceof UsersFileError) console.log(error.line); // 1
 * }
 * ```
 */
export class UsersFileError extends Error {
  /** The file's name, as given to {@linkcode parseUsersFile}. */
  readonly file: string;
  /** The 1-based line at fault, or `undefined` for the whole file. */
  readonly line: number | undefined;
  /** Names the file, the line when there is one, and the problem. */
  constructor(file: string, line: number | undefined, problem: string) {
    super(`${file}: ${line === undefined ? "" : `line ${line}: `}${problem}`);
    this.name = "UsersFileError";
    this.file = file;
    this.line = line;
  }
}

/**
 * What {@linkcode parseUsersFile} found.
 *
 * @example
 * ```ts
 * import type { UsersFile } from "./users_file.ts";
 * const parsed: UsersFile = { users: new Map([["bob", "x"]]), plaintext: ["bob"] };
 * ```
 */
export interface UsersFile {
  /** Name → secret (an entry or a plaintext password), in file order. */
  users: Map<string, string>;
  /** Names whose secret is plaintext, in file order: worth a warning. */
  plaintext: string[];
}

// RFC 1929: ULEN and PLEN are one byte each.
const MAX_FIELD_BYTES = 255;

/**
 * Parses a users file's text. `#` starts a comment line; blank lines are
 * skipped; CRLF line ends and a leading byte-order mark are tolerated. The
 * secret is everything after the first colon, so it may hold colons, and it
 * may be empty (some clients send a name only). A secret that starts with
 * `pbkdf2-sha256$` must be a well-formed entry: a typo in one is an error,
 * never a plaintext password.
 *
 * @throws {UsersFileError} For a line with no colon, an empty name, a name
 * or plaintext password longer than RFC 1929's 255 bytes, a user listed
 * twice, a malformed entry, or a file with no users.
 *
 * @example
 * ```ts
 * import { parseUsersFile } from "./users_file.ts";
 * const { users, plaintext } = parseUsersFile("# team\nbob:a:b\r\n", "users.txt");
 * console.log(users.get("bob"), plaintext); // "a:b" [ "bob" ]
 * ```
 */
export function parseUsersFile(text: string, file: string): UsersFile {
  const users = new Map<string, string>();
  const lineOf = new Map<string, number>();
  const plaintext: string[] = [];
  const lines = text.replace(/^\uFEFF/, "").split("\n");
  lines.forEach((raw, index) => {
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    const number = index + 1;
    const fail = (problem: string): never => {
      throw new UsersFileError(file, number, problem);
    };
    if (line.trim() === "" || line.trimStart().startsWith("#")) return;
    const colon = line.indexOf(":");
    // The line is not quoted: without a colon it may be a password alone.
    if (colon === -1) fail("expected NAME:SECRET, found no colon");
    const name = line.slice(0, colon);
    const secret = line.slice(colon + 1);
    if (name === "") fail("the name is empty");
    if (utf8(name).length > MAX_FIELD_BYTES) {
      fail(`the name is longer than ${MAX_FIELD_BYTES} bytes (RFC 1929)`);
    }
    const first = lineOf.get(name);
    if (first !== undefined) {
      fail(`user "${name}" is listed twice (first on line ${first})`);
    }
    if (secret.startsWith(`${PASSWORD_HASH_SCHEME}$`)) {
      try {
        parsePasswordHash(secret);
      } catch (error) {
        if (!(error instanceof PasswordHashError)) throw error;
        fail(`the password hash of "${name}" is invalid: ${error.reason}`);
      }
    } else {
      if (utf8(secret).length > MAX_FIELD_BYTES) {
        fail(
          `the password of "${name}" is longer than ${MAX_FIELD_BYTES} bytes (RFC 1929)`,
        );
      }
      plaintext.push(name);
    }
    users.set(name, secret);
    lineOf.set(name, number);
  });
  if (users.size === 0) throw new UsersFileError(file, undefined, "no users");
  return { users, plaintext };
}
