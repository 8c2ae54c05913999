/**
 * The command line, parsed into `serve()` options the same way on every
 * runtime. Every mistake becomes a {@linkcode UsageError} that names the
 * flag.
 *
 * @module
 */

import { parseArgs } from "node:util";
import type { LogLevel } from "../logger.ts";
import { LOG_LEVELS } from "../logger.ts";
import type { ServeOptions } from "../options.ts";

/**
 * A command-line mistake; the CLI prints the message and exits with 2.
 *
 * @example
 * ```ts
 * import { UsageError } from "./parse_args.ts";
 * console.log(new UsageError("--listen: missing port").message); // "--listen: missing port"
 * ```
 */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/**
 * What the command line asks for.
 *
 * @example
 * ```ts
 * import type { Command } from "./parse_args.ts";
 * const command: Command = { kind: "version" };
 * ```
 */
export type Command =
  | { kind: "help" }
  | { kind: "version" }
  | {
    kind: "serve";
    options: Omit<ServeOptions, "logger" | "network">;
    /** Files of `name:password` lines to read before serving. */
    usersFiles: string[];
    logLevel: LogLevel;
    /** `undefined`: text on a terminal, JSON otherwise. */
    logFormat: "json" | "text" | undefined;
  };

/**
 * The `--help` text.
 *
 * @example
 * ```ts
 * import { HELP } from "./parse_args.ts";
 * console.log(HELP.includes("--listen")); // true
 * ```
 */
export const HELP = `edgesocks: a SOCKS5 proxy server (RFC 1928, RFC 1929)

Usage: edgesocks [options]

Options:
  --listen HOST:PORT         Address to listen on; repeatable. [::]:PORT for
                             IPv6 and dual-stack; port 0 picks a free port.
                             Default: 127.0.0.1:1080
  --user NAME:PASSWORD       Require login; adds a user. Repeatable.
  --users FILE               Require login; adds the users of FILE, one
                             NAME:PASSWORD a line (# starts a comment).
  --no-auth                  Serve without login on a non-loopback address.
                             Without users, only loopback addresses may be
                             served unless this is given.
  --handshake-timeout TIME   From accept to a complete request. Default: 10s
  --connect-timeout TIME     Resolving and connecting out. Default: 10s
  --idle-timeout TIME        Close tunnels idle this long. Default: 0 (never)
  --bind-timeout TIME        How long BIND waits for its peer. Default: 60s
  --bind-ports LOW-HIGH      Ports BIND listens on. Default: any free port
  --bind-without-session     Let BIND serve clients with no open CONNECT
                             tunnel from the same address (and user).
  --external-address IP      Address BIND listens on and BIND and UDP
                             ASSOCIATE advertise (behind NAT: the public one).
  --log-level LEVEL          debug, info, warn, error or silent. Default: info
  --log-format FORMAT        json or text. Default: text on a terminal, else json
  -h, --help                 Show this help.
  -v, --version              Show the version.

TIME is a number with a unit: 500ms, 10s, 5m, 1h (a bare number is seconds).
Access log: one JSON line per request on stderr.
`;

const flags = {
  listen: { type: "string", multiple: true },
  user: { type: "string", multiple: true },
  users: { type: "string", multiple: true },
  "no-auth": { type: "boolean" },
  "handshake-timeout": { type: "string" },
  "connect-timeout": { type: "string" },
  "idle-timeout": { type: "string" },
  "bind-timeout": { type: "string" },
  "bind-ports": { type: "string" },
  "bind-without-session": { type: "boolean" },
  "external-address": { type: "string" },
  "log-level": { type: "string" },
  "log-format": { type: "string" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean", short: "v" },
} as const;

/**
 * Parses the arguments after the program name.
 *
 * @throws {UsageError} Naming the flag and what is wrong.
 *
 * @example
 * ```ts
 * import { parseCommandLine } from "./parse_args.ts";
 * const command = parseCommandLine(["--listen", "127.0.0.1:0", "--idle-timeout", "5m"]);
 * if (command.kind === "serve") console.log(command.options.idleTimeout); // 300000
 * ```
 */
export function parseCommandLine(args: readonly string[]): Command {
  let values;
  try {
    ({ values } = parseArgs({ args: [...args], options: flags, strict: true }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.help) return { kind: "help" };
  if (values.version) return { kind: "version" };
  const options: Omit<ServeOptions, "logger" | "network"> = {};
  if (values.listen) options.listen = values.listen;
  if (values.user) options.users = parseUsers(values.user);
  if (values["no-auth"]) options.noAuth = true;
  if (values["bind-without-session"]) options.bindWithoutSession = true;
  if (values["bind-ports"] !== undefined) {
    options.bindPorts = parsePortRange("--bind-ports", values["bind-ports"]);
  }
  if (values["external-address"] !== undefined) {
    options.externalAddress = values["external-address"];
  }
  for (
    const [flag, key] of [
      ["handshake-timeout", "handshakeTimeout"],
      ["connect-timeout", "connectTimeout"],
      ["idle-timeout", "idleTimeout"],
      ["bind-timeout", "bindTimeout"],
    ] as const
  ) {
    const text = values[flag];
    if (text !== undefined) options[key] = parseDuration(`--${flag}`, text);
  }
  return {
    kind: "serve",
    options,
    usersFiles: values.users ?? [],
    logLevel: oneOf("--log-level", values["log-level"] ?? "info", LOG_LEVELS),
    logFormat: values["log-format"] === undefined
      ? undefined
      : oneOf("--log-format", values["log-format"], ["json", "text"] as const),
  };
}

/**
 * Parses `NAME:PASSWORD` entries (the password may hold colons; it may be
 * empty) into a users map.
 *
 * @throws {UsageError} Naming `source` (a flag, or a file and line).
 *
 * @example
 * ```ts
 * import { parseUsers } from "./parse_args.ts";
 * console.log(parseUsers(["alice:a:b"]).get("alice")); // "a:b"
 * ```
 */
export function parseUsers(
  entries: readonly string[],
  source: (index: number) => string = () => "--user",
): Map<string, string> {
  const users = new Map<string, string>();
  entries.forEach((entry, index) => {
    const colon = entry.indexOf(":");
    if (colon < 1) {
      throw new UsageError(
        `${source(index)}: expected NAME:PASSWORD, got "${entry.slice(0, 40)}"`,
      );
    }
    const name = entry.slice(0, colon);
    if (users.has(name)) {
      throw new UsageError(`${source(index)}: user "${name}" is given twice`);
    }
    users.set(name, entry.slice(colon + 1));
  });
  return users;
}

const units: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  "": 1000,
};

/**
 * Parses a duration such as `500ms`, `10s`, `5m`, `1h` or `30` (seconds)
 * into milliseconds.
 *
 * @throws {UsageError} Naming `flag`.
 *
 * @example
 * ```ts
 * import { parseDuration } from "./parse_args.ts";
 * console.log(parseDuration("--connect-timeout", "1.5s")); // 1500
 * ```
 */
export function parseDuration(flag: string, text: string): number {
  const match = /^([0-9]+(?:\.[0-9]+)?)(ms|s|m|h|)$/.exec(text.trim());
  const value = match ? Number(match[1]) * units[match[2]!]! : NaN;
  if (!Number.isFinite(value) || value > 2_147_483_647) {
    throw new UsageError(
      `${flag}: "${text}" is not a duration like 500ms, 10s, 5m or 1h`,
    );
  }
  return Math.round(value);
}

/**
 * Parses `LOW-HIGH` into a port range.
 *
 * @throws {UsageError} Naming `flag`.
 *
 * @example
 * ```ts
 * import { parsePortRange } from "./parse_args.ts";
 * console.log(parsePortRange("--bind-ports", "40000-40100")); // [ 40000, 40100 ]
 * ```
 */
export function parsePortRange(flag: string, text: string): [number, number] {
  const match = /^([0-9]{1,5})-([0-9]{1,5})$/.exec(text.trim());
  const low = Number(match?.[1]);
  const high = Number(match?.[2]);
  if (match === null || low < 1 || high > 65535 || low > high) {
    throw new UsageError(
      `${flag}: "${text}" is not a port range LOW-HIGH within 1-65535`,
    );
  }
  return [low, high];
}

function oneOf<T extends string>(
  flag: string,
  text: string,
  choices: readonly T[],
): T {
  if (!(choices as readonly string[]).includes(text)) {
    throw new UsageError(
      `${flag}: "${text}" is not one of ${choices.join(", ")}`,
    );
  }
  return text as T;
}
