/**
 * Every setting of the `edgesocks` command, once: its flag, the config-file
 * key that mirrors it, and how its text becomes a `serve()` option. The
 * command line and the config file both go through this table, so they
 * accept the same values and name mistakes the same way.
 *
 * @module
 */

import { parseProxyUrl } from "../client/url.ts";
import type { LogLevel } from "../observe/logger.ts";
import { LOG_LEVELS } from "../observe/logger.ts";
import type { LimitKind } from "../server/limits.ts";
import type { ServeOptions } from "../server/options.ts";
import {
  parseCidr,
  parseRule,
  type Rule,
  ruleFromConfig,
} from "../rules/mod.ts";
import { parseHostPort } from "../wire/address.ts";

/**
 * A command-line or config-file mistake; the CLI prints the message and
 * exits with 2.
 *
 * @example
 * ```ts
 * import { UsageError } from "./settings.ts";
 * console.log(new UsageError("--listen: missing port").message); // "--listen: missing port"
 * ```
 */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** Workers at most: each holds a count column in the shared tables. */
export const MAX_WORKERS = 256;

/**
 * What the settings build: `serve()` options and what the CLI itself does.
 *
 * @example
 * ```ts
 * import { emptySettings } from "./settings.ts";
 * console.log(emptySettings().usersFiles); // []
 * ```
 */
export interface Settings {
  /** Options for `serve()`, rules aside. */
  options: Omit<ServeOptions, "logger" | "network" | "rules">;
  /** Access rules in order. */
  rules: Rule[];
  /** Files of `NAME:SECRET` lines to read before serving. */
  usersFiles: string[];
  /** `undefined`: info. */
  logLevel?: LogLevel;
  /** `undefined`: text on a terminal, JSON otherwise. */
  logFormat?: "json" | "text";
  /** Where to serve Prometheus metrics. */
  metrics?: string;
  /** Threads serving the listen addresses; `auto`: one per core. */
  workers?: number | "auto";
}

/**
 * Settings before any flag or key.
 *
 * @example
 * ```ts
 * import { emptySettings } from "./settings.ts";
 * console.log(emptySettings().rules.length); // 0
 * ```
 */
export function emptySettings(): Settings {
  return { options: {}, rules: [], usersFiles: [] };
}

/**
 * One setting. `where` names the flag or key path in error messages.
 *
 * @example
 * ```ts
 * import type { Setting } from "./settings.ts";
 * const quiet: Setting = {
 *   name: "quiet",
 *   type: "boolean",
 *   apply: (settings) => settings.logLevel = "error",
 * };
 * ```
 */
export interface Setting {
  /** The flag without `--`, which is also the config-file key. */
  name: string;
  /** What the flag takes. */
  type: "string" | "boolean";
  /** Repeatable flag; a list in the config file. */
  multiple?: boolean;
  /** A one-letter alias. */
  short?: string;
  /** Only on the command line, never in a config file. */
  flagOnly?: boolean;
  /** Turns one value into settings; throws a {@linkcode UsageError}. */
  apply(settings: Settings, value: string | boolean, where: string): void;
}

function durationSetting(
  name: string,
  key:
    | "handshakeTimeout"
    | "connectTimeout"
    | "idleTimeout"
    | "bindTimeout",
): Setting {
  return {
    name,
    type: "string",
    apply: (settings, value, where) =>
      settings.options[key] = parseDuration(where, String(value)),
  };
}

function limitSetting(name: string, kind: LimitKind): Setting {
  return {
    name,
    type: "string",
    apply(settings, value, where) {
      (settings.options.limits ??= {})[kind] = parseCount(where, String(value));
    },
  };
}

function throttleSetting(
  name: string,
  key: "failures" | "window" | "block",
): Setting {
  return {
    name,
    type: "string",
    apply(settings, value, where) {
      const throttle = settings.options.loginThrottle || {};
      throttle[key] = key === "failures"
        ? parseCount(where, String(value))
        : parseDuration(where, String(value));
      settings.options.loginThrottle = throttle;
    },
  };
}

// A repeatable CIDR, checked here, not by serve(), so the error names the
// flag or key.
function cidrListSetting(
  name: string,
  option: "allowNoAuth" | "proxyProtocol",
): Setting {
  return {
    name,
    type: "string",
    multiple: true,
    apply(settings, value, where) {
      try {
        parseCidr(String(value));
      } catch (error) {
        throw new UsageError(`${where}: ${(error as Error).message}`);
      }
      ((settings.options[option] ??= []) as string[]).push(String(value));
    },
  };
}

function ruleSetting(action: "allow" | "deny"): Setting {
  return {
    name: action,
    type: "string",
    multiple: true,
    flagOnly: true,
    apply(settings, value, where) {
      try {
        settings.rules.push(parseRule(action, String(value)));
      } catch (error) {
        throw new UsageError(`${where}: ${(error as Error).message}`);
      }
    },
  };
}

/**
 * Every setting, in `--help` order.
 *
 * @example
 * ```ts
 * import { SETTINGS } from "./settings.ts";
 * console.log(SETTINGS.some((s) => s.name === "listen")); // true
 * ```
 */
export const SETTINGS: readonly Setting[] = [
  {
    name: "config",
    type: "string",
    flagOnly: true,
    apply() {
      // Read by the CLI before the other settings; see parseCommandLine.
    },
  },
  {
    name: "listen",
    type: "string",
    multiple: true,
    apply(settings, value, where) {
      const listen = (settings.options.listen ??= []) as string[];
      listen.push(checkHostPort(where, String(value)));
    },
  },
  {
    name: "user",
    type: "string",
    multiple: true,
    apply(settings, value, where) {
      const users = (settings.options.users ??= new Map()) as Map<
        string,
        string
      >;
      addUser(users, String(value), where);
    },
  },
  {
    name: "users",
    type: "string",
    multiple: true,
    apply: (settings, value) => settings.usersFiles.push(String(value)),
  },
  {
    name: "no-auth",
    type: "boolean",
    apply: (settings, value) => settings.options.noAuth = value === true,
  },
  cidrListSetting("allow-no-auth", "allowNoAuth"),
  ruleSetting("allow"),
  ruleSetting("deny"),
  durationSetting("handshake-timeout", "handshakeTimeout"),
  durationSetting("connect-timeout", "connectTimeout"),
  durationSetting("idle-timeout", "idleTimeout"),
  durationSetting("bind-timeout", "bindTimeout"),
  {
    name: "bind-ports",
    type: "string",
    apply: (settings, value, where) =>
      settings.options.bindPorts = parsePortRange(where, String(value)),
  },
  {
    name: "bind-without-session",
    type: "boolean",
    apply: (settings, value) =>
      settings.options.bindWithoutSession = value === true,
  },
  {
    name: "external-address",
    type: "string",
    apply: (settings, value) =>
      settings.options.externalAddress = String(value),
  },
  cidrListSetting("proxy-protocol", "proxyProtocol"),
  limitSetting("max-connections", "maxConnections"),
  limitSetting("max-connections-per-client", "maxConnectionsPerClient"),
  limitSetting("max-connections-per-user", "maxConnectionsPerUser"),
  limitSetting("max-pending-handshakes", "maxPendingHandshakes"),
  limitSetting(
    "max-pending-handshakes-per-client",
    "maxPendingHandshakesPerClient",
  ),
  {
    name: "client-ipv6-prefix",
    type: "string",
    apply(settings, value, where) {
      const bits = parseCount(where, String(value));
      if (bits < 1 || bits > 128) {
        throw new UsageError(`${where}: ${bits} is not a prefix length 1-128`);
      }
      settings.options.clientIpv6Prefix = bits;
    },
  },
  limitSetting("max-binds-per-user", "maxBindsPerUser"),
  limitSetting("max-udp-per-user", "maxUdpPerUser"),
  throttleSetting("login-failures", "failures"),
  throttleSetting("login-window", "window"),
  throttleSetting("login-block", "block"),
  {
    name: "upstream",
    type: "string",
    apply(settings, value, where) {
      try {
        settings.options.upstream = parseProxyUrl(String(value));
      } catch (error) {
        throw new UsageError(`${where}: ${(error as Error).message}`);
      }
    },
  },
  {
    name: "metrics",
    type: "string",
    apply: (settings, value, where) =>
      settings.metrics = checkHostPort(where, String(value)),
  },
  {
    name: "workers",
    type: "string",
    apply(settings, value, where) {
      const text = String(value).trim();
      if (text === "auto") {
        settings.workers = "auto";
        return;
      }
      const count = parseCount(where, text);
      if (count < 1 || count > MAX_WORKERS) {
        throw new UsageError(
          `${where}: ${count} is not 1-${MAX_WORKERS} or auto`,
        );
      }
      settings.workers = count;
    },
  },
  {
    name: "log-level",
    type: "string",
    apply: (settings, value, where) =>
      settings.logLevel = oneOf(where, String(value), LOG_LEVELS),
  },
  {
    name: "log-format",
    type: "string",
    apply: (settings, value, where) =>
      settings.logFormat = oneOf(where, String(value), ["json", "text"]),
  },
];

/**
 * Applies a parsed config file (its JSON value) to `settings`, skipping the
 * settings in `skip` (those the command line sets, which win). Rules from
 * the file's `rules` key go after the command line's.
 *
 * @throws {UsageError} Naming the file and key path: an unknown key, a
 * wrong type, a bad value.
 *
 * @example
 * ```ts
 * import { applyConfig, emptySettings } from "./settings.ts";
 * const settings = emptySettings();
 * applyConfig(settings, { value: { listen: ["127.0.0.1:0"] }, file: "edgesocks.json", skip: new Set() });
 * console.log(settings.options.listen); // [ "127.0.0.1:0" ]
 * ```
 */
export function applyConfig(
  settings: Settings,
  config: { value: unknown; file: string; skip: ReadonlySet<string> },
): void {
  const { value, file, skip } = config;
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new UsageError(`${file}: the top level is not a JSON object`);
  }
  for (const [key, entry] of Object.entries(value)) {
    const where = `${file}: ${key}`;
    if (key === "rules") {
      if (!Array.isArray(entry)) {
        throw new UsageError(`${where}: it is not a list of rules`);
      }
      entry.forEach((rule, i) => {
        try {
          settings.rules.push(ruleFromConfig(rule, `rules[${i}]`));
        } catch (error) {
          throw new UsageError(`${file}: ${(error as Error).message}`);
        }
      });
      continue;
    }
    const setting = SETTINGS.find((s) => s.name === key && !s.flagOnly);
    if (setting === undefined) {
      throw new UsageError(
        `${where}: there is no such setting (keys mirror the command-line flags, plus "rules")`,
      );
    }
    if (skip.has(key)) continue;
    const values = setting.multiple && Array.isArray(entry) ? entry : [entry];
    const at = (i: number) =>
      setting.multiple && Array.isArray(entry) ? `${where}[${i}]` : where;
    // Types first, so a list's wrong type is named before a bad value.
    const checked = values.map((item, i) => configValue(setting, item, at(i)));
    checked.forEach((item, i) => setting.apply(settings, item, at(i)));
  }
}

// JSON gives numbers and booleans as such; a setting takes text (numbers
// for counts and seconds) or a boolean for a switch.
function configValue(setting: Setting, value: unknown, where: string) {
  if (setting.type === "boolean") {
    if (typeof value !== "boolean") {
      throw new UsageError(
        `${where}: ${JSON.stringify(value)} is not true or false`,
      );
    }
    return value;
  }
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  if (typeof value !== "string") {
    throw new UsageError(
      `${where}: ${JSON.stringify(value)} is not ${
        setting.multiple ? "a string or a list of strings" : "a string"
      }`,
    );
  }
  return value;
}

/**
 * Adds one `NAME:PASSWORD` entry to `users` (the password may hold colons
 * and may be empty).
 *
 * @throws {UsageError} Naming `where`.
 *
 * @example
 * ```ts
 * import { addUser } from "./settings.ts";
 * const users = new Map<string, string>();
 * addUser(users, "alice:a:b", "--user");
 * console.log(users.get("alice")); // "a:b"
 * ```
 */
export function addUser(
  users: Map<string, string>,
  entry: string,
  where: string,
): void {
  const colon = entry.indexOf(":");
  if (colon < 1) {
    throw new UsageError(
      `${where}: expected NAME:PASSWORD, got "${entry.slice(0, 40)}"`,
    );
  }
  const name = entry.slice(0, colon);
  if (users.has(name)) {
    throw new UsageError(`${where}: user "${name}" is given twice`);
  }
  users.set(name, entry.slice(colon + 1));
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
 * @throws {UsageError} Naming `where`.
 *
 * @example
 * ```ts
 * import { parseDuration } from "./settings.ts";
 * console.log(parseDuration("--connect-timeout", "1.5s")); // 1500
 * ```
 */
export function parseDuration(where: string, text: string): number {
  const match = /^([0-9]+(?:\.[0-9]+)?)(ms|s|m|h|)$/.exec(text.trim());
  const value = match ? Number(match[1]) * units[match[2]!]! : NaN;
  if (!Number.isFinite(value) || value > 2_147_483_647) {
    throw new UsageError(
      `${where}: "${text}" is not a duration like 500ms, 10s, 5m or 1h`,
    );
  }
  return Math.round(value);
}

/**
 * Parses `LOW-HIGH` into a port range.
 *
 * @throws {UsageError} Naming `where`.
 *
 * @example
 * ```ts
 * import { parsePortRange } from "./settings.ts";
 * console.log(parsePortRange("--bind-ports", "40000-40100")); // [ 40000, 40100 ]
 * ```
 */
export function parsePortRange(where: string, text: string): [number, number] {
  const match = /^([0-9]{1,5})-([0-9]{1,5})$/.exec(text.trim());
  const low = Number(match?.[1]);
  const high = Number(match?.[2]);
  if (match === null || low < 1 || high > 65535 || low > high) {
    throw new UsageError(
      `${where}: "${text}" is not a port range LOW-HIGH within 1-65535`,
    );
  }
  return [low, high];
}

// Checked while reading settings, so that a config file's mistake names the
// file and key, and nothing is bound before a later setting turns out bad.
function checkHostPort(where: string, text: string): string {
  try {
    parseHostPort(text);
  } catch (error) {
    throw new UsageError(
      `${where}: ${
        (error as Error).message.replace(/^Cannot parse address: /, "")
      }`,
    );
  }
  return text;
}

function parseCount(where: string, text: string): number {
  if (!/^[0-9]{1,9}$/.test(text.trim())) {
    throw new UsageError(`${where}: "${text}" is not a whole number >= 0`);
  }
  return Number(text);
}

function oneOf<T extends string>(
  where: string,
  text: string,
  choices: readonly T[],
): T {
  if (!(choices as readonly string[]).includes(text)) {
    throw new UsageError(
      `${where}: "${text}" is not one of ${choices.join(", ")}`,
    );
  }
  return text as T;
}
