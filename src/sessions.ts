/**
 * The CONNECT tunnels each client holds open, by client IP address and
 * user: the "session" a client must hold before it may BIND.
 *
 * @module
 */

/**
 * Counts open CONNECT tunnels per client IP address and user.
 *
 * @example
 * ```ts
 * import { SessionTable } from "./sessions.ts";
 * const sessions = new SessionTable();
 * const release = sessions.open("127.0.0.1", "alice");
 * console.log(sessions.count("127.0.0.1", "alice")); // 1
 * release();
 * console.log(sessions.count("127.0.0.1", "alice")); // 0
 * ```
 */
export class SessionTable {
  #counts = new Map<string, number>();

  /** Records one open tunnel; call the returned function once it closes. */
  open(clientIp: string, user: string | null): () => void {
    const key = sessionKey(clientIp, user);
    this.#counts.set(key, (this.#counts.get(key) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = this.#counts.get(key)! - 1;
      if (left === 0) this.#counts.delete(key);
      else this.#counts.set(key, left);
    };
  }

  /** Open tunnels of this client IP address and user (`null`: no auth). */
  count(clientIp: string, user: string | null): number {
    return this.#counts.get(sessionKey(clientIp, user)) ?? 0;
  }

  /** Open tunnels in all. */
  get total(): number {
    let total = 0;
    for (const count of this.#counts.values()) total += count;
    return total;
  }
}

function sessionKey(clientIp: string, user: string | null): string {
  // NUL cannot occur in an IP address and the prefix tells "no auth" from
  // an empty username, so keys never collide.
  return user === null ? `${clientIp}\0` : `${clientIp}\0u:${user}`;
}
