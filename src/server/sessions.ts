/**
 * The CONNECT tunnels each client holds open, by client IP address and
 * user: the "session" a client must hold before it may BIND, and the
 * interface its tunnels leave from, which BIND listens on.
 *
 * @module
 */

interface Session {
  count: number;
  /** Local address of the newest tunnel's outbound socket. */
  outboundHost: string;
}

/**
 * Counts open CONNECT tunnels per client IP address and user.
 *
 * @example
 * ```ts
 * import { SessionTable } from "./sessions.ts";
 * const sessions = new SessionTable();
 * const release = sessions.open("127.0.0.1", "alice", "10.0.0.5");
 * console.log(sessions.count("127.0.0.1", "alice")); // 1
 * console.log(sessions.outboundHost("127.0.0.1", "alice")); // "10.0.0.5"
 * release();
 * console.log(sessions.count("127.0.0.1", "alice")); // 0
 * ```
 */
export class SessionTable {
  #sessions = new Map<string, Session>();

  /**
   * Records one open tunnel whose outbound socket is bound to
   * `outboundHost`; call the returned function once it closes.
   */
  open(
    clientIp: string,
    user: string | null,
    outboundHost: string,
  ): () => void {
    const key = sessionKey(clientIp, user);
    const session = this.#sessions.get(key);
    if (session === undefined) {
      this.#sessions.set(key, { count: 1, outboundHost });
    } else {
      session.count++;
      session.outboundHost = outboundHost;
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const session = this.#sessions.get(key)!;
      if (--session.count === 0) this.#sessions.delete(key);
    };
  }

  /** Open tunnels of this client IP address and user (`null`: no auth). */
  count(clientIp: string, user: string | null): number {
    return this.#sessions.get(sessionKey(clientIp, user))?.count ?? 0;
  }

  /** Where this client's newest open tunnel leaves from, if it has one. */
  outboundHost(clientIp: string, user: string | null): string | null {
    return this.#sessions.get(sessionKey(clientIp, user))?.outboundHost ??
      null;
  }

  /** Open tunnels in all. */
  get total(): number {
    let total = 0;
    for (const session of this.#sessions.values()) total += session.count;
    return total;
  }
}

/**
 * The key a session is counted under: client IP address and user, which
 * never collide (a shared table stores it too).
 *
 * @example
 * ```ts
 * import { sessionKey } from "./sessions.ts";
 * console.log(sessionKey("127.0.0.1", null) !== sessionKey("127.0.0.1", "")); // true
 * ```
 */
export function sessionKey(clientIp: string, user: string | null): string {
  // NUL cannot occur in an IP address and the prefix tells "no auth" from
  // an empty username, so keys never collide.
  return user === null ? `${clientIp}\0` : `${clientIp}\0u:${user}`;
}
