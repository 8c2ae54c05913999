/**
 * Stored passwords for RFC 1929 login: PBKDF2-HMAC-SHA256 through Web
 * Crypto, which derives the same bytes on Deno, Bun and Node, and an
 * {@linkcode Authenticate} that checks hashed and plaintext passwords and
 * remembers recent successful logins, because a proxy sees a login on every
 * connection and one derivation at the default cost takes tens of
 * milliseconds.
 *
 * An entry reads `pbkdf2-sha256$ITERATIONS$SALT$HASH`, salt and hash in
 * standard padded base64: a 16-byte random salt and a 32-byte hash.
 *
 * @example
 * ```ts
 * import { hashPassword, verifyPassword } from "./credentials.ts";
 * const entry = await hashPassword("s3cret");
 * console.log(await verifyPassword("s3cret", entry)); // true
 * ```
 *
 * @module
 */

import type { Authenticate } from "./authenticate.ts";
import { timingSafeEqual } from "../bytes.ts";

/**
 * The scheme an entry starts with, before its first `$`.
 *
 * @example
 * ```ts
 * import { PASSWORD_HASH_SCHEME } from "./credentials.ts";
 * console.log("pbkdf2-sha256$600000$…".startsWith(`${PASSWORD_HASH_SCHEME}$`)); // true
 * ```
 */
export const PASSWORD_HASH_SCHEME = "pbkdf2-sha256";

/**
 * Iterations {@linkcode hashPassword} uses unless told otherwise: OWASP's
 * Password Storage Cheat Sheet figure for PBKDF2-HMAC-SHA256.
 *
 * @example
 * ```ts
 * import { DEFAULT_ITERATIONS } from "./credentials.ts";
 * console.log(DEFAULT_ITERATIONS); // 600000
 * ```
 */
export const DEFAULT_ITERATIONS = 600_000;

/**
 * The fewest iterations an entry may have: below this a stolen users file
 * falls to a guessing attack almost at once.
 *
 * @example
 * ```ts
 * import { MIN_ITERATIONS } from "./credentials.ts";
 * console.log(MIN_ITERATIONS); // 1000
 * ```
 */
export const MIN_ITERATIONS = 1000;

/**
 * The most iterations an entry may have: above this one login would hold
 * the server for seconds, so a typo in a users file would become a denial
 * of service.
 *
 * @example
 * ```ts
 * import { MAX_ITERATIONS } from "./credentials.ts";
 * console.log(MAX_ITERATIONS); // 10000000
 * ```
 */
export const MAX_ITERATIONS = 10_000_000;

const PREFIX = `${PASSWORD_HASH_SCHEME}$`;
const SALT_BYTES = 16;
const HASH_BYTES = 32;
const encoder = new TextEncoder();

/**
 * A parsed entry.
 *
 * @example
 * ```ts
 * import type { PasswordHash } from "./credentials.ts";
 * const parsed: PasswordHash = {
 *   iterations: 1000,
 *   salt: new Uint8Array(16),
 *   hash: new Uint8Array(32),
 * };
 * ```
 */
export interface PasswordHash {
  /** PBKDF2 iteration count, from {@linkcode MIN_ITERATIONS} to {@linkcode MAX_ITERATIONS}. */
  iterations: number;
  /** The salt; never empty. */
  salt: Uint8Array<ArrayBuffer>;
  /** The derived key: 32 bytes. */
  hash: Uint8Array<ArrayBuffer>;
}

/**
 * A malformed entry. `reason` is the message's detail alone, for callers
 * that say where the entry came from.
 *
 * @example
 * ```ts
 * import { parsePasswordHash, PasswordHashError } from "./credentials.ts";
 * try {
 *   parsePasswordHash("pbkdf2-sha256$12$AAAA$AAAA");
 * } catch (error) {
 *   if (error instanceof PasswordHashError) console.log(error.reason);
 *   // "iterations must be an integer from 1000 to 10000000, got \"12\""
 * }
 * ```
 */
export class PasswordHashError extends Error {
  /** What is wrong, without the "Invalid password hash" lead. */
  readonly reason: string;
  constructor(reason: string) {
    super(`Invalid password hash: ${reason}`);
    this.name = "PasswordHashError";
    this.reason = reason;
  }
}

/**
 * Parses and checks an entry.
 *
 * @throws {PasswordHashError} Naming the problem: the scheme, the number of
 * fields, iterations out of range, a salt or hash that is not standard
 * base64, an empty salt, a hash that is not 32 bytes. The message never
 * quotes the salt or the hash, nor text before the first `$`, which may be
 * a password written where an entry was expected.
 *
 * @example
 * ```ts
 * import { parsePasswordHash } from "./credentials.ts";
 * const entry = "pbkdf2-sha256$1000$AAAAAAAAAAAAAAAAAAAAAA==$" +
 *   "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
 * console.log(parsePasswordHash(entry).iterations); // 1000
 * ```
 */
export function parsePasswordHash(entry: string): PasswordHash {
  if (!entry.startsWith(PREFIX)) {
    throw new PasswordHashError(`it does not start with "${PREFIX}"`);
  }
  const fields = entry.split("$");
  if (fields.length !== 4) {
    throw new PasswordHashError(
      `expected 4 fields separated by "$", got ${fields.length}`,
    );
  }
  const [, iterationsText = "", saltText = "", hashText = ""] = fields;
  const iterations = /^[1-9][0-9]{0,7}$/.test(iterationsText)
    ? Number(iterationsText)
    : NaN;
  if (!(iterations >= MIN_ITERATIONS && iterations <= MAX_ITERATIONS)) {
    throw new PasswordHashError(
      `${iterationsRange()}, got "${iterationsText.slice(0, 20)}"`,
    );
  }
  const salt = decodeBase64(saltText);
  if (salt === null) {
    throw new PasswordHashError("the salt is not standard base64");
  }
  if (salt.length === 0) throw new PasswordHashError("the salt is empty");
  const hash = decodeBase64(hashText);
  if (hash === null) {
    throw new PasswordHashError("the hash is not standard base64");
  }
  if (hash.length !== HASH_BYTES) {
    throw new PasswordHashError(
      `the hash must be ${HASH_BYTES} bytes, got ${hash.length}`,
    );
  }
  return { iterations, salt, hash };
}

/**
 * Whether `text` is a well-formed entry.
 *
 * @example
 * ```ts
 * import { isPasswordHash } from "./credentials.ts";
 * console.log(isPasswordHash("s3cret")); // false
 * ```
 */
export function isPasswordHash(text: string): boolean {
  try {
    parsePasswordHash(text);
    return true;
  } catch {
    return false;
  }
}

/**
 * Options of {@linkcode hashPassword}.
 *
 * @example
 * ```ts
 * import type { HashPasswordOptions } from "./credentials.ts";
 * const options: HashPasswordOptions = { iterations: 1000 };
 * ```
 */
export interface HashPasswordOptions {
  /** PBKDF2 iterations. Default: {@linkcode DEFAULT_ITERATIONS}. */
  iterations?: number;
}

/**
 * Hashes a password with a fresh random salt into an entry.
 *
 * @throws {RangeError} When `iterations` is not an integer from
 * {@linkcode MIN_ITERATIONS} to {@linkcode MAX_ITERATIONS}.
 *
 * @example
 * ```ts
 * import { hashPassword } from "./credentials.ts";
 * console.log(await hashPassword("s3cret", { iterations: 1000 }));
 * // "pbkdf2-sha256$1000$<22 base64 chars>==$<43 base64 chars>="
 * ```
 */
export async function hashPassword(
  password: string,
  options: HashPasswordOptions = {},
): Promise<string> {
  const iterations = options.iterations ?? DEFAULT_ITERATIONS;
  if (
    !Number.isInteger(iterations) || iterations < MIN_ITERATIONS ||
    iterations > MAX_ITERATIONS
  ) {
    throw new RangeError(
      `Cannot hash password: ${iterationsRange()}, got ${iterations}`,
    );
  }
  const salt = crypto.getRandomValues(new Uint8Array(SALT_BYTES));
  const hash = await pbkdf2Sha256(password, salt, {
    iterations,
    length: HASH_BYTES,
  });
  return `${PREFIX}${iterations}$${encodeBase64(salt)}$${encodeBase64(hash)}`;
}

/**
 * Whether `password` matches `entry`. The derived bytes are compared in
 * constant time. Like every PBKDF2-HMAC, it cannot tell a password of up
 * to 64 bytes from the same password with NULs appended (HMAC pads short
 * keys with zeros, RFC 2104 §2); whoever sends one knows the other.
 *
 * @throws {PasswordHashError} (as a rejection) When `entry` is malformed:
 * a broken users file is a configuration mistake, not a wrong password.
 *
 * @example
 * ```ts
 * import { hashPassword, verifyPassword } from "./credentials.ts";
 * const entry = await hashPassword("s3cret", { iterations: 1000 });
 * console.log(await verifyPassword("S3cret", entry)); // false
 * ```
 */
export async function verifyPassword(
  password: string,
  entry: string,
): Promise<boolean> {
  return await matches(password, parsePasswordHash(entry));
}

/**
 * Options of {@linkcode pbkdf2Sha256}.
 *
 * @example
 * ```ts
 * import type { Pbkdf2Options } from "./credentials.ts";
 * const options: Pbkdf2Options = { iterations: 1, length: 64 };
 * ```
 */
export interface Pbkdf2Options {
  /** Iteration count, at least 1. */
  iterations: number;
  /** Bytes to derive. */
  length: number;
}

/**
 * PBKDF2-HMAC-SHA256 (RFC 8018 §5.2) of the UTF-8 bytes of `password`:
 * the primitive under {@linkcode hashPassword}, with no limits on its
 * parameters, so published test vectors can check it.
 *
 * @example
 * ```ts
 * import { pbkdf2Sha256 } from "./credentials.ts";
 * const salt = new TextEncoder().encode("salt");
 * const key = await pbkdf2Sha256("passwd", salt, { iterations: 1, length: 64 });
 * console.log(key[0]); // 0x55, as in RFC 7914 §11
 * ```
 */
export async function pbkdf2Sha256(
  password: string,
  salt: Uint8Array,
  options: Pbkdf2Options,
): Promise<Uint8Array<ArrayBuffer>> {
  const key = await crypto.subtle.importKey(
    "raw",
    encoder.encode(password),
    "PBKDF2",
    false,
    ["deriveBits"],
  );
  const bits = await crypto.subtle.deriveBits(
    {
      name: "PBKDF2",
      hash: "SHA-256",
      salt: new Uint8Array(salt),
      iterations: options.iterations,
    },
    key,
    options.length * 8,
  );
  return new Uint8Array(bits);
}

/**
 * Options of {@linkcode credentialsAuthenticator}.
 *
 * @example
 * ```ts
 * import type { CredentialsAuthenticatorOptions } from "./credentials.ts";
 * const options: CredentialsAuthenticatorOptions = { cacheSize: 0 };
 * ```
 */
export interface CredentialsAuthenticatorOptions {
  /**
   * How many successful logins to remember (least recently used forgotten
   * first); 0 remembers none. Default: 1024.
   */
  cacheSize?: number;
  /**
   * Milliseconds a successful login is remembered, counted from its
   * derivation; using it does not extend it. Default: 600000 (10 minutes).
   */
  cacheTtl?: number;
  /** The clock the cache reads, in milliseconds. Default: `Date.now`. */
  now?: () => number;
  /** Called once per PBKDF2 derivation, decoys included: for tests and metrics. */
  onDerive?: () => void;
}

/**
 * An {@linkcode Authenticate} over a fixed table of users, each value a
 * {@linkcode hashPassword} entry or a plaintext password (a value that
 * starts with `pbkdf2-sha256$` is always taken as an entry).
 *
 * Timing: plaintext passwords are compared in constant time; an unknown
 * user costs what a wrong password of a hashed user costs (a derivation
 * against a decoy with the table's highest iteration count), or, when no
 * user is hashed, what a wrong plaintext password costs.
 *
 * A successful hashed login is remembered under the user's name and
 * SHA-256 of a per-authenticator random secret and the password, so the
 * cache holds neither a password nor a plain hash of one; a failure is
 * never remembered.
 *
 * @throws {TypeError} When a value that starts with `pbkdf2-sha256$` is
 * malformed, naming the user, or an option is out of range.
 *
 * @example
 * ```ts
 * import { credentialsAuthenticator, hashPassword } from "./credentials.ts";
 * const authenticate = credentialsAuthenticator(new Map([
 *   ["alice", await hashPassword("s3cret")],
 *   ["bob", "plaintext"],
 * ]));
 * const client = { host: "127.0.0.1", port: 50000 };
 * console.log(await authenticate("alice", "s3cret", client)); // true
 * ```
 */
export function credentialsAuthenticator(
  users: ReadonlyMap<string, string>,
  options: CredentialsAuthenticatorOptions = {},
): Authenticate {
  const cacheSize = options.cacheSize ?? 1024;
  const cacheTtl = options.cacheTtl ?? 600_000;
  if (!Number.isSafeInteger(cacheSize) || cacheSize < 0) {
    throw new TypeError(
      `Invalid option cacheSize: expected a whole number, got ${cacheSize}`,
    );
  }
  if (!Number.isFinite(cacheTtl) || cacheTtl < 0) {
    throw new TypeError(
      `Invalid option cacheTtl: expected milliseconds, got ${cacheTtl}`,
    );
  }
  const now = options.now ?? Date.now;
  const onDerive = options.onDerive;

  const plain = new Map<string, Uint8Array>();
  const hashed = new Map<string, PasswordHash>();
  let decoyIterations = 0;
  for (const [name, secret] of users) {
    if (!secret.startsWith(PREFIX)) {
      plain.set(name, encoder.encode(secret));
      continue;
    }
    let parsed;
    try {
      parsed = parsePasswordHash(secret);
    } catch (error) {
      throw new TypeError(
        `Invalid password hash of user "${name}": ${
          (error as PasswordHashError).reason
        }`,
      );
    }
    hashed.set(name, parsed);
    decoyIterations = Math.max(decoyIterations, parsed.iterations);
  }
  const decoy: PasswordHash | null = decoyIterations === 0 ? null : {
    iterations: decoyIterations,
    salt: crypto.getRandomValues(new Uint8Array(SALT_BYTES)),
    hash: crypto.getRandomValues(new Uint8Array(HASH_BYTES)),
  };
  const decoyPlain = new Uint8Array(32);

  const secret = crypto.getRandomValues(new Uint8Array(32));
  // Key → expiry time; a Map iterates in insertion order, so re-inserting
  // on use makes the first key the least recently used.
  const cache = new Map<string, number>();
  const cacheKey = async (username: string, password: string) => {
    const bytes = encoder.encode(password);
    const input = new Uint8Array(secret.length + bytes.length);
    input.set(secret);
    input.set(bytes, secret.length);
    const digest = await crypto.subtle.digest("SHA-256", input);
    input.fill(0);
    bytes.fill(0);
    // The digest's base64 has a fixed length, so no name can make two
    // different (name, password) pairs collide.
    return encodeBase64(new Uint8Array(digest)) + username;
  };

  // Stored hashes (and the decoy an unknown user pays for) need a digest
  // and a derivation: async.
  const checkHashed = async (
    username: string,
    password: string,
    stored: PasswordHash,
  ): Promise<boolean> => {
    // Unknown users take the digest too, so they cost what a wrong password does.
    const key = cacheSize > 0 ? await cacheKey(username, password) : "";
    if (stored === decoy) {
      await matches(password, decoy, onDerive);
      return false;
    }
    const expires = cache.get(key);
    if (expires !== undefined) {
      cache.delete(key);
      if (now() < expires) {
        cache.set(key, expires);
        return true;
      }
    }
    const ok = await matches(password, stored, onDerive);
    if (ok && cacheSize > 0) {
      cache.set(key, now() + cacheTtl);
      for (const oldest of cache.keys()) {
        if (cache.size <= cacheSize) break;
        cache.delete(oldest);
      }
    }
    return ok;
  };

  // A plaintext user, or anyone when nobody is hashed, is answered at once:
  // the server then replies without waiting for a promise.
  return (username, password) => {
    const text = plain.get(username);
    if (text !== undefined) {
      return timingSafeEqual(encoder.encode(password), text);
    }
    const stored = hashed.get(username) ?? decoy;
    if (stored === null) {
      timingSafeEqual(encoder.encode(password), decoyPlain);
      return false;
    }
    return checkHashed(username, password, stored);
  };
}

async function matches(
  password: string,
  stored: PasswordHash,
  onDerive?: () => void,
): Promise<boolean> {
  onDerive?.();
  const derived = await pbkdf2Sha256(password, stored.salt, {
    iterations: stored.iterations,
    length: stored.hash.length,
  });
  return timingSafeEqual(derived, stored.hash);
}

function iterationsRange(): string {
  return `iterations must be an integer from ${MIN_ITERATIONS} to ${MAX_ITERATIONS}`;
}

function encodeBase64(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

// Standard alphabet, padded, nothing else: atob alone would also take
// whitespace and missing padding.
const BASE64 =
  /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function decodeBase64(text: string): Uint8Array<ArrayBuffer> | null {
  if (!BASE64.test(text)) return null;
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  // Nonzero unused bits in the last character would give a second spelling
  // of the same bytes; one spelling per entry keeps entries comparable.
  return encodeBase64(bytes) === text ? bytes : null;
}
