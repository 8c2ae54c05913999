/**
 * One value of a rule matcher (one item of `dest=a,b`, one array element of
 * a config object), shared by the one-line and object forms. Each reader
 * throws a {@linkcode Problem}; the caller says where the value came from.
 *
 * @module
 */

import type { Cidr } from "./cidr.ts";
import type { DestMatcher, PortRange, RuleCommand } from "./matcher.ts";
import { parseIPv4, parseIPv6 } from "../wire/address.ts";
import { readCidr } from "./_ip.ts";
import { Problem } from "./_problem.ts";

/** The matcher keys as the `Rule` fields they fill. */
export type MatcherField = "client" | "user" | "command" | "dest" | "port";

/** Keys as written (`cmd` and `command` are one) to the field they fill. */
export const MATCHER_KEYS: ReadonlyMap<string, MatcherField> = new Map([
  ["client", "client"],
  ["user", "user"],
  ["cmd", "command"],
  ["command", "command"],
  ["dest", "dest"],
  ["port", "port"],
]);

/** The matchers of a rule being built, keyed by field. */
export type Matchers = {
  client?: Cidr[];
  user?: string[];
  command?: RuleCommand[];
  dest?: DestMatcher[];
  port?: PortRange[];
};

/**
 * Splits `a,b,c` into items, refusing an empty value or item: `port=80,`
 * is more likely a mistake than a wish for one port.
 */
export function splitItems(text: string): string[] {
  if (text === "") throw new Problem("value is empty");
  const items = text.split(",");
  if (items.includes("")) throw new Problem(`"${text}" has an empty item`);
  return items;
}

/**
 * Reads one value of a matcher; only `port` takes numbers. The result is
 * the element type of `Matchers[field]`, which {@linkcode matchersOf} puts
 * back together.
 */
export function readValue(
  field: MatcherField,
  value: string | number,
): unknown {
  if (typeof value === "number") {
    if (field !== "port") throw new Problem(`${value} is not a string`);
    return readPortNumber(value);
  }
  switch (field) {
    case "client":
      return readCidr(value);
    case "user":
      return value;
    case "command":
      return readCommand(value);
    case "dest":
      return readDest(value);
    case "port":
      return readPort(value);
  }
}

/** The matcher for `field`, from values {@linkcode readValue} read for it. */
export function matchersOf(field: MatcherField, values: unknown[]): Matchers {
  return { [field]: values } as Matchers;
}

const COMMANDS: readonly RuleCommand[] = ["connect", "bind", "udp"];

function readCommand(text: string): RuleCommand {
  const command = COMMANDS.find((name) => name === text.toLowerCase());
  if (command === undefined) {
    throw new Problem(`"${text}" is not connect, bind or udp`);
  }
  return command;
}

// RFC 1123 labels, plus `_` (seen in real names such as SRV targets). A name
// whose last label is all digits is refused: it is a mistyped IPv4 address
// (`10.0.0`, `010.0.0.1`), which resolvers may read as one.
const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;

function readDest(text: string): DestMatcher {
  if (
    text.includes("/") || parseIPv4(text) !== null || parseIPv6(text) !== null
  ) {
    return { kind: "cidr", cidr: readCidr(text) };
  }
  if (text.startsWith("*.")) {
    throw new Problem(
      `"${text}" is not a destination: write "${
        text.slice(1)
      }" for a domain and its subdomains`,
    );
  }
  const suffix = text.startsWith(".");
  const name = hostName(suffix ? text.slice(1) : text);
  if (name === null) {
    throw new Problem(
      suffix
        ? `"${text}" is not a domain suffix such as .example.com`
        : `"${text}" is not an IP address, CIDR, host name or .suffix`,
    );
  }
  return suffix
    ? { kind: "suffix", suffix: name }
    : { kind: "host", host: name };
}

/** Lower-cased name without its trailing dot, or `null` when not a host name. */
function hostName(text: string): string | null {
  const name = (text.endsWith(".") ? text.slice(0, -1) : text).toLowerCase();
  if (name.length === 0 || name.length > 253) return null;
  const labels = name.split(".");
  if (!labels.every((label) => LABEL.test(label))) return null;
  return /^[0-9]+$/.test(labels[labels.length - 1]!) ? null : name;
}

/** A name from a request, compared the way rule names are stored. */
export function requestName(name: string): string {
  return (name.endsWith(".") ? name.slice(0, -1) : name).toLowerCase();
}

function readPort(text: string): PortRange {
  const match = /^([0-9]{1,5})(?:-([0-9]{1,5}))?$/.exec(text);
  const low = Number(match?.[1]);
  const high = match?.[2] === undefined ? low : Number(match[2]);
  if (match === null || low > 65535 || high > 65535) {
    throw new Problem(`"${text}" is not a port or range`);
  }
  if (low > high) {
    throw new Problem(
      `"${text}" is not a port or range: ${low} is above ${high}`,
    );
  }
  return { low, high };
}

function readPortNumber(value: number): PortRange {
  if (!Number.isInteger(value) || value < 0 || value > 65535) {
    throw new Problem(`${value} is not a port or range`);
  }
  return { low: value, high: value };
}
