/**
 * Dialling a destination by name or address: resolve with the system
 * resolver, then race the addresses Happy-Eyeballs style (RFC 8305), so a
 * name with a dead IPv6 and a live IPv4 address connects as fast as one
 * with only the live one.
 *
 * @module
 */

import type { Connection, Network } from "./connection.ts";
import { ReplyError } from "./dial_error.ts";
import {
  formatHostPort,
  type HostPort,
  toSocksAddress,
} from "../wire/address.ts";
import { AddressType, Reply } from "../wire/constants.ts";

/**
 * RFC 8305 §5: the recommended Connection Attempt Delay before the next
 * address is tried while earlier attempts are still pending.
 *
 * @example
 * ```ts
 * import { ATTEMPT_DELAY_MS } from "./dial.ts";
 * console.log(ATTEMPT_DELAY_MS); // 250
 * ```
 */
export const ATTEMPT_DELAY_MS = 250;

const DIAL_SETTLED = new Error("The dial has settled");

/**
 * Options of {@linkcode dial}.
 *
 * @example
 * ```ts
 * import type { DialTarget } from "./dial.ts";
 * const target: DialTarget = { host: "localhost", port: 80, timeout: 10_000 };
 * ```
 */
export interface DialTarget extends HostPort {
  /** Milliseconds for the lookup and every attempt together. */
  timeout: number;
  /**
   * The dial's own controller, for a caller that may need to give up
   * (abort it: the dial rejects with its reason). One per dial: the dial
   * aborts it too, on timeout and to stop attempts that lost the race.
   * Without it the dial makes its own.
   */
  controller?: AbortController;
  /**
   * Decides, per resolved address and right before connecting to it,
   * whether it may be dialled: the access rules see the address, not just
   * the name, so a name that resolves somewhere forbidden is refused.
   */
  permit?: (address: string) => { allow: boolean; rule: string };
}

/**
 * Orders resolved addresses for racing (RFC 8305 §4): alternate families,
 * starting with the family the resolver listed first.
 *
 * @example
 * ```ts
 * import { interleaveFamilies } from "./dial.ts";
 * console.log(interleaveFamilies(["::1", "::2", "10.0.0.1"])); // [ "::1", "10.0.0.1", "::2" ]
 * ```
 */
export function interleaveFamilies(addresses: readonly string[]): string[] {
  const v6 = addresses.filter((a) => a.includes(":"));
  const v4 = addresses.filter((a) => !a.includes(":"));
  const [first, second] = addresses[0]?.includes(":") ? [v6, v4] : [v4, v6];
  const out: string[] = [];
  for (let i = 0; i < Math.max(first.length, second.length); i++) {
    if (i < first.length) out.push(first[i]!);
    if (i < second.length) out.push(second[i]!);
  }
  return out;
}

/**
 * Connects to `target`, resolving a name first. Rejects with the runtime's
 * error of the last failed attempt, or a {@linkcode ReplyError} for a name
 * without addresses (0x04) or a timeout (0x06).
 *
 * @example
 * ```ts
 * import { dial } from "./dial.ts";
 * import type { Network } from "./connection.ts";
 * async function open(network: Network) {
 *   return await dial(network, { host: "localhost", port: 8080, timeout: 5000 });
 * }
 * ```
 */
export async function dial(
  network: Network,
  target: DialTarget,
): Promise<Connection> {
  const controller = target.controller ?? new AbortController();
  // An abort before the call fires no event: check it, or dial would go on.
  controller.signal.throwIfAborted();
  // The timeout aborts the dial with its own reason, which the lookup's
  // wait and every attempt then reject with.
  const timer = setTimeout(() => {
    controller.abort(
      new ReplyError(
        Reply.TtlExpired,
        `Cannot connect to ${
          formatHostPort(target)
        }: timed out after ${target.timeout} ms`,
      ),
    );
  }, target.timeout);
  try {
    return await resolveAndRace(network, target, controller);
  } finally {
    clearTimeout(timer);
  }
}

async function resolveAndRace(
  network: Network,
  target: DialTarget,
  controller: AbortController,
): Promise<Connection> {
  const { signal } = controller;
  const { port } = target;
  const isName = toSocksAddress(target.host, port).type === AddressType.Domain;
  const resolved = isName
    ? interleaveFamilies(
      await untilAborted(network.lookup(target.host), signal),
    )
    : [target.host];
  if (resolved.length === 0) {
    throw new ReplyError(
      Reply.HostUnreachable,
      `Cannot resolve ${target.host}: it has no addresses`,
    );
  }
  const addresses = permitted(resolved, target);
  // Most destinations have one address: nothing to race.
  if (addresses.length === 1) {
    return await network.connect({ host: addresses[0]!, port, signal });
  }
  return await race(
    addresses,
    (host) => network.connect({ host, port, signal }),
    controller,
  );
}

// The system resolver takes no signal: stop waiting for it on an abort,
// and start nothing for a dead dial.
async function untilAborted<T>(
  promise: Promise<T>,
  signal: AbortSignal,
): Promise<T> {
  let onAbort!: () => void;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort);
  });
  try {
    return await Promise.race([promise, aborted]);
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}

function permitted(addresses: string[], target: DialTarget): string[] {
  if (target.permit === undefined) return addresses;
  let denial: string | null = null;
  const allowed = addresses.filter((address) => {
    const decision = target.permit!(address);
    denial ??= decision.allow ? null : decision.rule;
    return decision.allow;
  });
  if (allowed.length === 0) {
    throw new AccessDenied(
      denial!,
      `Cannot connect to ${formatHostPort(target)}: denied by ${denial}`,
    );
  }
  return allowed;
}

/**
 * A destination the access rules refuse: reply 0x02, and the rule.
 *
 * @example
 * ```ts
 * import { AccessDenied } from "./dial.ts";
 * const error = new AccessDenied("deny port=25", "Cannot connect to mail:25: denied by deny port=25");
 * console.log(error.reply, error.rule); // 2 "deny port=25"
 * ```
 */
export class AccessDenied extends ReplyError {
  /** The text of the rule that denied it. */
  readonly rule: string;

  constructor(rule: string, message: string) {
    super(Reply.NotAllowed, message);
    this.name = "AccessDenied";
    this.rule = rule;
  }
}

// Starts an attempt per address, the next one after ATTEMPT_DELAY_MS or as
// soon as the one before fails; the first to connect wins, and aborting
// the controller stops the rest. Only a race with attempts still pending
// aborts: an abort dispatches an event, and most dials have one address.
function race(
  addresses: readonly string[],
  attempt: (host: string) => Promise<Connection>,
  controller: AbortController,
): Promise<Connection> {
  const { signal } = controller;
  return new Promise((resolve, reject) => {
    let next = 0;
    let pending = 0;
    let settled = false;
    let lastError: unknown;
    let delay: ReturnType<typeof setTimeout> | undefined;
    const settle = (error: unknown, conn?: Connection) => {
      if (settled) {
        conn?.close();
        return;
      }
      settled = true;
      clearTimeout(delay);
      signal.removeEventListener("abort", onAbort);
      if (pending > 0 && !signal.aborted) controller.abort(DIAL_SETTLED);
      conn === undefined ? reject(error) : resolve(conn);
    };
    const onAbort = () => settle(signal.reason);
    signal.addEventListener("abort", onAbort);
    const start = () => {
      clearTimeout(delay);
      if (settled) return;
      if (next === addresses.length) {
        if (pending === 0) settle(lastError);
        return;
      }
      pending++;
      attempt(addresses[next++]!).then(
        (conn) => {
          pending--;
          settle(undefined, conn);
        },
        (error: unknown) => {
          pending--;
          lastError = error;
          start();
        },
      );
      if (next < addresses.length) delay = setTimeout(start, ATTEMPT_DELAY_MS);
    };
    start();
  });
}
