/**
 * The command line, parsed the same way on every runtime: a subcommand, or
 * the flags of the server, which the settings table turns into `serve()`
 * options — merged with a config file when `--config` names one.
 *
 * @module
 */

import { parseArgs, type ParseArgsConfig } from "node:util";
import { RULE_GRAMMAR } from "../rules/mod.ts";
import {
  applyConfig,
  emptySettings,
  SETTINGS,
  type Settings,
  UsageError,
} from "./settings.ts";

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
  | { kind: "hash-password"; args: string[] }
  | {
    kind: "serve";
    /** The `--config` file, read by the caller and given to `buildSettings`. */
    configFile: string | null;
    /** The flags, in the order given. */
    flags: { name: string; value: string | boolean }[];
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
export const HELP: string =
  `edgesocks: a SOCKS5 proxy server (RFC 1928, RFC 1929)

Usage: edgesocks [options]
       edgesocks hash-password [--user NAME] [--iterations N]

Options:
  --config FILE              JSON settings; keys mirror these flags (without
                             "--") plus "rules"; flags win over the file.
                             SIGHUP re-reads it and the users files.
  --listen HOST:PORT         Address to listen on; repeatable. [::]:PORT for
                             IPv6 and dual-stack; port 0 picks a free port.
                             Default: 127.0.0.1:1080
  --user NAME:PASSWORD       Require login; adds a user. Repeatable.
  --users FILE               Require login; adds the users of FILE, one
                             NAME:SECRET a line (# starts a comment); SECRET
                             is a hash-password entry or, with a warning,
                             the plain password.
  --no-auth                  Serve without login on a non-loopback address.
                             Without users, only loopback addresses may be
                             served unless this is given.
  --allow-no-auth CIDR       Let clients from CIDR in without login while
                             everyone else logs in. Repeatable.
  --allow RULE, --deny RULE  Access rules, first match decides; repeatable.
  --handshake-timeout TIME   From accept to a complete request. Default: 10s
  --connect-timeout TIME     Resolving and connecting out. Default: 10s
  --idle-timeout TIME        Close tunnels idle this long. Default: 0 (never)
  --bind-timeout TIME        How long BIND waits for its peer. Default: 60s
  --bind-ports LOW-HIGH      Ports BIND listens on. Default: any free port
  --bind-without-session     Let BIND serve clients with no open CONNECT
                             tunnel from the same address (and user).
  --external-address IP      Address BIND listens on and BIND and UDP
                             ASSOCIATE advertise (behind NAT: the public one).
  --proxy-protocol CIDR      Load balancers that send the PROXY protocol (v1
                             or v2): their connections must open with it, and
                             the client it names is the client. Repeatable.
  --max-connections N        Connections at once, in all; 0: none. Default:
                             derived from the descriptor limit (see README)
  --max-connections-per-client N   ... from one client address.
  --max-connections-per-user N     Requests at once of one user.
  --max-pending-handshakes N Clients still in their handshake. Default: 1024
  --max-pending-handshakes-per-client N   ... from one address. Default: 64
  --client-ipv6-prefix BITS  IPv6 clients count per prefix. Default: 64
  --max-binds-per-user N     BIND requests at once of one user.
  --max-udp-per-user N       UDP associations at once of one user.
  --login-failures N         Failed logins that block an address. Default: 5
  --login-window TIME        ... counted over this long. Default: 1m
  --login-block TIME         ... and blocked for this long. Default: 5m
  --upstream URL             Send every CONNECT through another SOCKS5 proxy:
                             socks5h://[USER:PASS@]HOST[:PORT] passes names
                             on; socks5:// resolves them here.
  --metrics HOST:PORT        Serve Prometheus metrics at /metrics.
  --workers N|auto           Threads serving the same addresses, sharing
                             sessions, limits and logins; auto: one per
                             core. Default: 1
  --log-level LEVEL          debug, info, warn, error or silent. Default: info
  --log-format FORMAT        json or text. Default: text on a terminal, else json
  -h, --help                 Show this help.
  -v, --version              Show the version.

TIME is a number with a unit: 500ms, 10s, 5m, 1h (a bare number is seconds).
Access log: one JSON line per request on stderr.

${RULE_GRAMMAR}`;

const flagOptions: NonNullable<ParseArgsConfig["options"]> = Object.fromEntries(
  [
    ...SETTINGS.map((s) => [s.name, {
      type: s.type,
      ...(s.multiple ? { multiple: true } : {}),
      ...(s.short ? { short: s.short } : {}),
    }]),
    ["help", { type: "boolean", short: "h" }],
    ["version", { type: "boolean", short: "v" }],
  ],
);

/**
 * Parses the arguments after the program name.
 *
 * @throws {UsageError} Naming the flag and what is wrong.
 *
 * @example
 * ```ts
 * import { parseCommandLine } from "./parse_args.ts";
 * const command = parseCommandLine(["--listen", "127.0.0.1:0"]);
 * console.log(command.kind); // "serve"
 * ```
 */
export function parseCommandLine(args: readonly string[]): Command {
  if (args[0] === "hash-password") {
    return { kind: "hash-password", args: args.slice(1) };
  }
  let parsed: ReturnType<typeof parseArgs<ParseArgsConfig>>;
  try {
    parsed = parseArgs({
      args: [...args],
      options: flagOptions,
      strict: true,
      tokens: true,
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, tokens } = parsed;
  if (values.help) return { kind: "help" };
  if (values.version) return { kind: "version" };
  const flags: { name: string; value: string | boolean }[] = [];
  for (const token of tokens ?? []) {
    if (token.kind === "option") {
      flags.push({ name: token.name, value: token.value ?? true });
    }
  }
  const config = values.config;
  return {
    kind: "serve",
    configFile: typeof config === "string" ? config : null,
    flags: flags.filter((flag) => flag.name !== "config"),
  };
}

/**
 * Builds the settings of a `serve` command: the config file's value first
 * (for the settings no flag gives), then the flags. Rules from flags come
 * before the file's, so they win under first-match.
 *
 * @throws {UsageError} Naming the flag, or the file and key path.
 *
 * @example
 * ```ts
 * import { buildSettings, parseCommandLine } from "./parse_args.ts";
 * const command = parseCommandLine(["--idle-timeout", "5m"]);
 * if (command.kind === "serve") {
 *   console.log(buildSettings(command).options.idleTimeout); // 300000
 * }
 * ```
 */
export function buildSettings(
  command: Extract<Command, { kind: "serve" }>,
  config?: { value: unknown; file: string },
): Settings {
  const settings = emptySettings();
  if (config !== undefined) {
    const skip = new Set(command.flags.map((flag) => flag.name));
    applyConfig(settings, { ...config, skip });
  }
  const fromFile = settings.rules.splice(0);
  for (const { name, value } of command.flags) {
    const setting = SETTINGS.find((s) => s.name === name)!;
    setting.apply(settings, value, `--${name}`);
  }
  settings.rules.push(...fromFile);
  return settings;
}

export { UsageError } from "./settings.ts";
