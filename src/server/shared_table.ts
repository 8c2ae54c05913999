/**
 * The state every worker of one server shares — sessions, limits, login
 * failures, handshake slots — in `SharedArrayBuffer`s, so that a client's
 * connections can land on any worker and still meet one view of them.
 *
 * Why threads and shared memory, not processes and messages: the session
 * rule (BIND only while a CONNECT tunnel of the same client is open) and
 * the limits are checked on every connection. A message round trip to a
 * keeper of the state would cost two event-loop turns per check and leave a
 * window in which a closed session still admits a BIND; a lock and a few
 * loads on memory every thread maps cost well under a microsecond and have
 * no window at all: a tunnel's release and a BIND's check are ordered by
 * the same lock. Every runtime runs `node:worker_threads` and can hand a
 * thread a `SharedArrayBuffer`; processes cannot share one.
 *
 * Each table is an open-addressing hash table of fixed capacity with linear
 * probing and backward-shift deletion (no tombstones, so probe chains never
 * rot). An entry stores its key's bytes (UTF-8, bounded length), so a hash
 * collision never merges two clients: the session rule compares exact
 * keys. A key that does not fit, or a table that is full, is refused: a
 * limit refuses the connection, a session that cannot be recorded admits
 * no BIND (the safe side).
 *
 * Counts are kept per worker (one column each) and summed on reading, so a
 * worker that dies leaves nothing behind: the main thread zeroes its
 * column ({@linkcode SharedTable.clearWorker}) before a replacement takes
 * it over.
 *
 * One lock per table (a three-state futex word: free, held, held with
 * waiters) guards everything; sections are short and synchronous, never
 * awaiting, so a thread cannot die holding it. A CONNECT costs seven
 * locked sections (the throttle's check at accept, limits taken and given
 * back, handshake slot taken and given back, session open and release),
 * eight with a login (the throttle forgets the address's failures); a BIND
 * adds one per check. The busiest tables (limits, handshake slots,
 * sessions) take two sections a connection, ~0.4 µs each measured on one
 * thread (key encoding, probe, the lock's atomics). At ~4 000 connections a
 * second per core (this machine's rate), 16 cores put ~130 000 sections a
 * second on one lock, ~5% of its time: a thread rarely finds it held. At 64
 * cores it is ~20% busy, waits start to show (and the lock's cache line
 * moves between cores on every section); striping each table by key hash
 * is the next step there.
 *
 * @module
 */

import { LoginThrottle, type ThrottleOptions } from "../auth/login_throttle.ts";
import {
  type LimitKind,
  type LimitOptions,
  Limits,
  releaseNothing,
} from "./limits.ts";
import {
  KnownClients,
  PENDING_GRACE,
  PendingHandshakes,
  type PendingOptions,
  type PendingRefusal,
} from "./pending.ts";
import { sessionKey, SessionTable } from "./sessions.ts";

/** Bytes of a key at most: an IPv6 address and a 255-byte username fit. */
const KEY_BYTES = 320;
const KEY_WORDS = KEY_BYTES / 4;
// Entry header, in 32-bit words: in use, hash, key length.
const E_USED = 0;
const E_HASH = 1;
const E_LEN = 2;
const E_KEY = 3;
// Table header: the lock word, then entries in use (kept even for alignment).
const HEADER_WORDS = 2;
const LOCK = 0;
const IN_USE = 1;

/**
 * The shape of a {@linkcode SharedTable}: fixed when its buffer is made,
 * the same in every thread that opens it.
 *
 * @example
 * ```ts
 * import type { TableShape } from "./shared_table.ts";
 * const shape: TableShape = { capacity: 1024, workers: 2, words: 0, floats: 0 };
 * ```
 */
export interface TableShape {
  /** Entries at most. */
  capacity: number;
  /** Count columns: one per worker (0: a table without counts). */
  workers: number;
  /** 32-bit words of data per entry besides the counts. */
  words: number;
  /** 64-bit floats of data per entry. */
  floats: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * A fixed-capacity hash table in a `SharedArrayBuffer`, locked as a whole.
 * The methods below `locked()` must run inside it.
 *
 * @example
 * ```ts
 * import { SharedTable } from "./shared_table.ts";
 * const shape = { capacity: 16, workers: 2, words: 0, floats: 0 };
 * const table = new SharedTable(SharedTable.allocate(shape), shape, 0);
 * table.locked(() => table.add(table.insert(table.keyOf("a")), 1));
 * console.log(table.locked(() => table.total(table.find(table.keyOf("a"))))); // 1
 * ```
 */
export class SharedTable {
  readonly #shape: TableShape;
  readonly #column: number;
  readonly #entryWords: number;
  readonly #countAt: number;
  readonly #wordsAt: number;
  readonly #floatsAt: number;
  readonly #i32: Int32Array;
  readonly #u8: Uint8Array;
  readonly #f64: Float64Array;
  readonly #scratch = new Uint8Array(KEY_BYTES + 4);

  /** A zeroed buffer for `shape`. */
  static allocate(shape: TableShape): SharedArrayBuffer {
    return new SharedArrayBuffer(
      (HEADER_WORDS + shape.capacity * entryWords(shape)) * 4,
    );
  }

  /** Opens `buffer` as seen by worker `column`. */
  constructor(buffer: SharedArrayBuffer, shape: TableShape, column: number) {
    this.#shape = shape;
    this.#column = column;
    this.#entryWords = entryWords(shape);
    this.#countAt = E_KEY + KEY_WORDS;
    this.#wordsAt = this.#countAt + shape.workers;
    // Floats sit at an even word, and entries start at even words.
    this.#floatsAt = (this.#wordsAt + shape.words + 1) & ~1;
    this.#i32 = new Int32Array(buffer);
    this.#u8 = new Uint8Array(buffer);
    this.#f64 = new Float64Array(buffer);
  }

  /** Entries in use. */
  get size(): number {
    return this.#i32[IN_USE]!;
  }

  /** Runs `fn` holding the table's lock. */
  locked<R>(fn: () => R): R {
    const lock = this.#i32;
    // Drepper's mutex: 0 free, 1 held, 2 held with a thread waiting.
    let state = Atomics.compareExchange(lock, LOCK, 0, 1);
    if (state !== 0) {
      do {
        if (state === 2 || Atomics.compareExchange(lock, LOCK, 1, 2) !== 0) {
          Atomics.wait(lock, LOCK, 2);
        }
      } while ((state = Atomics.compareExchange(lock, LOCK, 0, 2)) !== 0);
    }
    try {
      return fn();
    } finally {
      if (Atomics.sub(lock, LOCK, 1) !== 1) {
        Atomics.store(lock, LOCK, 0);
        Atomics.notify(lock, LOCK, 1);
      }
    }
  }

  /**
   * Encodes `key` for `find` and `insert`; `null` when it is longer than
   * a key may be. The result is reused by the next call.
   */
  keyOf(key: string): Uint8Array | null {
    const { read, written } = encoder.encodeInto(key, this.#scratch);
    if (read < key.length || written > KEY_BYTES) return null;
    return this.#scratch.subarray(0, written);
  }

  /** The entry of `key`, or -1. */
  find(key: Uint8Array | null): number {
    if (key === null) return -1;
    const capacity = this.#shape.capacity;
    const hash = hashOf(key);
    let slot = hash % capacity;
    for (let probes = 0; probes < capacity; probes++) {
      const at = this.#at(slot);
      if (this.#i32[at + E_USED] === 0) return -1;
      if (
        (this.#i32[at + E_HASH]! >>> 0) === hash && this.#keyIs(at, key)
      ) return slot;
      slot = (slot + 1) % capacity;
    }
    return -1;
  }

  /** The entry of `key`, made (zeroed) if need be; -1 if the table is full. */
  insert(key: Uint8Array | null): number {
    if (key === null) return -1;
    const found = this.find(key);
    if (found !== -1) return found;
    const capacity = this.#shape.capacity;
    if (this.size >= capacity) return -1;
    const hash = hashOf(key);
    let slot = hash % capacity;
    while (this.#i32[this.#at(slot) + E_USED] !== 0) {
      slot = (slot + 1) % capacity;
    }
    const at = this.#at(slot);
    this.#i32.fill(0, at, at + this.#entryWords);
    this.#i32[at + E_USED] = 1;
    this.#i32[at + E_HASH] = hash;
    this.#i32[at + E_LEN] = key.length;
    this.#u8.set(key, (at + E_KEY) * 4);
    this.#i32[IN_USE]!++;
    return slot;
  }

  /** Empties entry `slot`, moving later entries of its chain back. */
  remove(slot: number): void {
    const capacity = this.#shape.capacity;
    let hole = slot;
    let next = (hole + 1) % capacity;
    while (this.#i32[this.#at(next) + E_USED] !== 0) {
      const home = (this.#i32[this.#at(next) + E_HASH]! >>> 0) % capacity;
      // `next` may fill the hole unless its home lies cyclically in
      // (hole, next]: then it would be found before reaching the hole.
      const stays = hole <= next
        ? home > hole && home <= next
        : home > hole || home <= next;
      if (!stays) {
        const from = this.#at(next);
        this.#i32.copyWithin(this.#at(hole), from, from + this.#entryWords);
        hole = next;
      }
      next = (next + 1) % capacity;
    }
    this.#i32[this.#at(hole) + E_USED] = 0;
    this.#i32[IN_USE]!--;
  }

  /** The counts of entry `slot`, summed over every worker. */
  total(slot: number): number {
    if (slot === -1) return 0;
    const at = this.#at(slot) + this.#countAt;
    let sum = 0;
    for (let w = 0; w < this.#shape.workers; w++) sum += this.#i32[at + w]!;
    return sum;
  }

  /** Adds `delta` to this worker's count of entry `slot`. */
  add(slot: number, delta: number): void {
    this.#i32[this.#at(slot) + this.#countAt + this.#column]! += delta;
  }

  /** Data word `index` of entry `slot`. */
  word(slot: number, index: number): number {
    return this.#i32[this.#at(slot) + this.#wordsAt + index]!;
  }

  /** Sets data word `index` of entry `slot`. */
  setWord(slot: number, index: number, value: number): void {
    this.#i32[this.#at(slot) + this.#wordsAt + index] = value;
  }

  /** Data float `index` of entry `slot`. */
  float(slot: number, index: number): number {
    return this.#f64[(this.#at(slot) + this.#floatsAt) / 2 + index]!;
  }

  /** Sets data float `index` of entry `slot`. */
  setFloat(slot: number, index: number, value: number): void {
    this.#f64[(this.#at(slot) + this.#floatsAt) / 2 + index] = value;
  }

  /** Data words `index..` of entry `slot` as text (a length word first). */
  text(slot: number, index: number): string {
    const at = this.#at(slot) + this.#wordsAt + index;
    const length = this.#i32[at]!;
    return decoder.decode(this.#u8.slice((at + 1) * 4, (at + 1) * 4 + length));
  }

  /** Stores `value` (at most `(words - 1) * 4` bytes) from data word `index`. */
  setText(slot: number, index: number, value: string, words: number): void {
    const at = this.#at(slot) + this.#wordsAt + index;
    const room = this.#u8.subarray((at + 1) * 4, (at + words) * 4);
    const { written } = encoder.encodeInto(value, room);
    this.#i32[at] = written;
  }

  /** The key of entry `slot`, as text. */
  keyAt(slot: number): string {
    const at = this.#at(slot);
    const start = (at + E_KEY) * 4;
    return decoder.decode(
      this.#u8.slice(start, start + this.#i32[at + E_LEN]!),
    );
  }

  /** Every entry in use, for sums and sweeps (do not remove while iterating). */
  *slots(): Generator<number> {
    for (let slot = 0; slot < this.#shape.capacity; slot++) {
      if (this.#i32[this.#at(slot) + E_USED] !== 0) yield slot;
    }
  }

  /**
   * Forgets what worker `column` held (it died): zeroes its counts and
   * removes entries nobody holds any more. Takes the lock itself.
   */
  clearWorker(column: number): void {
    this.locked(() => {
      let slot = 0;
      while (slot < this.#shape.capacity) {
        const at = this.#at(slot);
        if (this.#i32[at + E_USED] !== 0) {
          this.#i32[at + this.#countAt + column] = 0;
          // A removal may move a later entry into this slot: look again.
          if (this.total(slot) === 0) {
            this.remove(slot);
            continue;
          }
        }
        slot++;
      }
    });
  }

  #at(slot: number): number {
    return HEADER_WORDS + slot * this.#entryWords;
  }

  #keyIs(at: number, key: Uint8Array): boolean {
    if (this.#i32[at + E_LEN] !== key.length) return false;
    const start = (at + E_KEY) * 4;
    for (let i = 0; i < key.length; i++) {
      if (this.#u8[start + i] !== key[i]) return false;
    }
    return true;
  }
}

function entryWords(shape: TableShape): number {
  const words = E_KEY + KEY_WORDS + shape.workers + shape.words;
  return ((words + 1) & ~1) + shape.floats * 2;
}

// FNV-1a, as an unsigned 32-bit number.
function hashOf(key: Uint8Array): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    hash = Math.imul(hash ^ key[i]!, 0x01000193);
  }
  return hash >>> 0;
}

/**
 * The buffers of one server's shared state, handed to every worker.
 *
 * @example
 * ```ts
 * import { allocateSharedState } from "./shared_table.ts";
 * const shared = allocateSharedState({ workers: 2, loginFailures: 5 });
 * console.log(shared.workers); // 2
 * ```
 */
export interface SharedBuffers {
  /** Workers (count columns) the buffers were made for. */
  workers: number;
  /** Failures kept per address by the login throttle. */
  loginFailures: number;
  sessions: SharedArrayBuffer;
  limits: SharedArrayBuffer;
  pending: SharedArrayBuffer;
  throttle: SharedArrayBuffer;
}

/** Distinct keys (client and user, client, user...) each table holds. */
export const SHARED_CAPACITY = 16_384;
/** Addresses the shared login throttle remembers. */
const THROTTLE_CAPACITY = 4_096;
/** Login failures per address the shared throttle can count to. */
export const MAX_SHARED_FAILURES = 64;
// A session's outbound host: a length word and up to 60 bytes of text.
const HOST_WORDS = 16;

function shapes(buffers: { workers: number; loginFailures: number }) {
  const { workers, loginFailures } = buffers;
  const counts = { capacity: SHARED_CAPACITY, workers, floats: 0 };
  return {
    sessions: { ...counts, words: HOST_WORDS },
    limits: { ...counts, words: 0 },
    pending: { ...counts, words: 0 },
    // Blocked until, failures kept, then their times.
    throttle: {
      capacity: THROTTLE_CAPACITY,
      workers: 0,
      words: 0,
      floats: 2 + loginFailures,
    },
  };
}

/**
 * Allocates the shared state for `workers` workers.
 *
 * @throws {RangeError} When `loginFailures` is above {@linkcode MAX_SHARED_FAILURES}.
 */
export function allocateSharedState(
  init: { workers: number; loginFailures: number },
): SharedBuffers {
  if (init.loginFailures > MAX_SHARED_FAILURES) {
    throw new RangeError(
      `Cannot share the login throttle: more than ${MAX_SHARED_FAILURES} failures`,
    );
  }
  const shape = shapes(init);
  return {
    ...init,
    sessions: SharedTable.allocate(shape.sessions),
    limits: SharedTable.allocate(shape.limits),
    pending: SharedTable.allocate(shape.pending),
    throttle: SharedTable.allocate(shape.throttle),
  };
}

/**
 * Forgets what a dead worker held in `buffers` (its counts; login failures
 * belong to addresses, not workers, and stay).
 *
 * @example
 * ```ts
 * import { allocateSharedState, clearWorker } from "./shared_table.ts";
 * clearWorker(allocateSharedState({ workers: 2, loginFailures: 5 }), 1);
 * ```
 */
export function clearWorker(buffers: SharedBuffers, column: number): void {
  const shape = shapes(buffers);
  for (const name of ["sessions", "limits", "pending"] as const) {
    new SharedTable(buffers[name], shape[name], column).clearWorker(column);
  }
}

/**
 * The shared state as worker `column` sees it, behind the interfaces the
 * single-worker server uses.
 *
 * @example
 * ```ts
 * import { allocateSharedState, openSharedState } from "./shared_table.ts";
 * const buffers = allocateSharedState({ workers: 2, loginFailures: 5 });
 * const state = openSharedState(buffers, 0, {
 *   limits: { maxConnections: 10 },
 *   pending: { max: 0, perClient: 0, ipv6Prefix: 64 },
 *   throttle: { failures: 5, window: 60_000, block: 60_000 },
 * });
 * console.log(state.sessions.count("127.0.0.1", null)); // 0
 * ```
 */
export function openSharedState(
  buffers: SharedBuffers,
  column: number,
  options: {
    limits: LimitOptions;
    pending: PendingOptions;
    throttle: ThrottleOptions;
  },
): {
  sessions: SessionTable;
  limits: Limits;
  pending: PendingHandshakes;
  throttle: LoginThrottle;
} {
  const shape = shapes(buffers);
  const open = (name: keyof typeof shape) =>
    new SharedTable(buffers[name], shape[name], column);
  return {
    sessions: new SharedSessions(open("sessions")),
    limits: new SharedLimits(open("limits"), options.limits),
    pending: new SharedPending(open("pending"), options.pending),
    throttle: new SharedThrottle(open("throttle"), {
      ...options.throttle,
      failures: Math.min(options.throttle.failures, buffers.loginFailures),
    }),
  };
}

// Sessions: a count per worker, and the newest tunnel's outbound host.
class SharedSessions extends SessionTable {
  readonly #table: SharedTable;

  constructor(table: SharedTable) {
    super();
    this.#table = table;
  }

  override open(
    clientIp: string,
    user: string | null,
    outboundHost: string,
  ): () => void {
    const table = this.#table;
    const key = sessionKey(clientIp, user);
    const slot = table.locked(() => {
      const slot = table.insert(table.keyOf(key));
      if (slot === -1) return -1;
      table.add(slot, 1);
      table.setText(slot, 0, outboundHost, HOST_WORDS);
      return slot;
    });
    // Not recorded (the table is full): no BIND rides on this tunnel.
    if (slot === -1) return releaseNothing;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      table.locked(() => {
        // Removals move entries: look the key up again.
        const slot = table.find(table.keyOf(key));
        table.add(slot, -1);
        if (table.total(slot) === 0) table.remove(slot);
      });
    };
  }

  override count(clientIp: string, user: string | null): number {
    const table = this.#table;
    const key = sessionKey(clientIp, user);
    return table.locked(() => table.total(table.find(table.keyOf(key))));
  }

  override outboundHost(clientIp: string, user: string | null): string | null {
    const table = this.#table;
    const key = sessionKey(clientIp, user);
    return table.locked(() => {
      const slot = table.find(table.keyOf(key));
      return slot === -1 ? null : table.text(slot, 0);
    });
  }

  override get total(): number {
    const table = this.#table;
    return table.locked(() => {
      let total = 0;
      for (const slot of table.slots()) total += table.total(slot);
      return total;
    });
  }
}

// Takes one place in each of `keys` (under their `max`), all or none.
function takeAll(
  table: SharedTable,
  keys: readonly string[],
  max: readonly number[],
): boolean {
  for (let i = 0; i < keys.length; i++) {
    const slot = table.insert(table.keyOf(keys[i]!));
    if (slot === -1 || table.total(slot) >= max[i]!) {
      if (slot !== -1 && table.total(slot) === 0) table.remove(slot);
      for (const key of keys.slice(0, i)) giveBack(table, key);
      return false;
    }
    table.add(slot, 1);
  }
  return true;
}

function giveBack(table: SharedTable, key: string): void {
  const slot = table.find(table.keyOf(key));
  if (slot === -1) return;
  table.add(slot, -1);
  if (table.total(slot) === 0) table.remove(slot);
}

function heldIn(table: SharedTable, key: string): number {
  return table.locked(() => table.total(table.find(table.keyOf(key))));
}

class SharedLimits extends Limits {
  readonly #table: SharedTable;
  readonly #max: Readonly<Record<string, number>>;

  constructor(table: SharedTable, options: LimitOptions) {
    super(options);
    this.#table = table;
    this.#max = { ...options };
  }

  override acquire(kind: LimitKind, key = ""): (() => void) | null {
    const max = this.#max[kind] ?? 0;
    if (max === 0) return releaseNothing;
    const table = this.#table;
    const id = `${kind}\0${key}`;
    if (!table.locked(() => takeAll(table, [id], [max]))) return null;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      table.locked(() => giveBack(table, id));
    };
  }

  override held(kind: LimitKind, key = ""): number {
    return heldIn(this.#table, `${kind}\0${key}`);
  }
}

// What the slot of a handshake this worker holds needs to be taken over.
interface LocalSlot {
  readonly key: string;
  readonly since: number;
  readonly evict: () => void;
}

const ALL_PENDING = "\0all";

// Handshake slots: the caps are exact over all workers; a newcomer that
// finds them full may take over the oldest slot of its own worker (under
// the rules of pending.ts), and finished handshakes are remembered per
// worker.
class SharedPending extends PendingHandshakes {
  readonly #table: SharedTable;
  readonly #options: PendingOptions;
  readonly #now: () => number;
  readonly #known = new KnownClients();
  readonly #slots = new Set<LocalSlot>();

  constructor(table: SharedTable, options: PendingOptions) {
    super(options);
    this.#table = table;
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  override get size(): number {
    return heldIn(this.#table, ALL_PENDING);
  }

  override held(clientIp: string): number {
    return heldIn(this.#table, this.keyOf(clientIp));
  }

  override admit(
    clientIp: string,
    evict: () => void,
  ):
    | { release: (succeeded?: boolean) => void }
    | { refused: PendingRefusal } {
    const { max, perClient } = this.#options;
    const key = this.keyOf(clientIp);
    const table = this.#table;
    const now = this.#now();
    let victim: LocalSlot | undefined;
    const refused = table.locked((): PendingRefusal | null => {
      const keys = [ALL_PENDING, key];
      const caps = [Infinity, perClient > 0 ? perClient : Infinity];
      const mine = table.total(table.find(table.keyOf(key)));
      if (mine >= caps[1]!) return "maxPendingHandshakesPerClient";
      const all = table.total(table.find(table.keyOf(ALL_PENDING)));
      if (max > 0 && all >= max) {
        const oldest = this.#slots.values().next().value;
        if (
          oldest === undefined ||
          (!this.#known.has(key) && now - oldest.since <= PENDING_GRACE)
        ) {
          return "maxPendingHandshakes";
        }
        this.#slots.delete(oldest);
        giveBack(table, ALL_PENDING);
        giveBack(table, oldest.key);
        victim = oldest;
      }
      return takeAll(table, keys, caps) ? null : "maxPendingHandshakes";
    });
    victim?.evict();
    if (refused !== null) return { refused };
    const slot: LocalSlot = { key, since: now, evict };
    this.#slots.add(slot);
    return {
      release: (succeeded = false) => {
        if (this.#slots.delete(slot)) {
          table.locked(() => {
            giveBack(table, ALL_PENDING);
            giveBack(table, key);
          });
        }
        if (succeeded) this.#known.remember(key);
      },
    };
  }
}

// Floats of a throttle entry: blocked until, failures kept, their times.
const BLOCKED_UNTIL = 0;
const KEPT = 1;
const TIMES = 2;

class SharedThrottle extends LoginThrottle {
  readonly #table: SharedTable;
  readonly #options: Required<ThrottleOptions>;

  constructor(table: SharedTable, options: ThrottleOptions) {
    super(options);
    this.#table = table;
    this.#options = { now: Date.now, ...options };
  }

  override isBlocked(ip: string): boolean {
    const table = this.#table;
    const now = this.#options.now();
    return table.locked(() => {
      const slot = table.find(table.keyOf(ip));
      return slot !== -1 && table.float(slot, BLOCKED_UNTIL) > now;
    });
  }

  override failed(ip: string): boolean {
    const { failures, window, block, now } = this.#options;
    if (failures <= 0) return false;
    const time = now();
    const table = this.#table;
    return table.locked(() => {
      let slot = table.insert(table.keyOf(ip));
      if (slot === -1) {
        this.#sweep(time);
        slot = table.insert(table.keyOf(ip));
        // Every address remembered is blocked or failing now: this one
        // goes uncounted until some expire.
        if (slot === -1) return false;
      }
      // The failures still in the window, then this one.
      let kept = 0;
      const had = table.float(slot, KEPT);
      for (let i = 0; i < had; i++) {
        const at = table.float(slot, TIMES + i);
        if (at > time - window) table.setFloat(slot, TIMES + kept++, at);
      }
      table.setFloat(slot, TIMES + kept++, time);
      if (kept < failures) {
        table.setFloat(slot, KEPT, kept);
        return false;
      }
      table.setFloat(slot, KEPT, 0);
      table.setFloat(slot, BLOCKED_UNTIL, time + block);
      return true;
    });
  }

  override succeeded(ip: string): void {
    const table = this.#table;
    const now = this.#options.now();
    table.locked(() => {
      const slot = table.find(table.keyOf(ip));
      if (slot !== -1 && table.float(slot, BLOCKED_UNTIL) <= now) {
        table.remove(slot);
      }
    });
  }

  // Drops addresses neither blocked nor with a failure in the window.
  #sweep(time: number): void {
    const table = this.#table;
    const stale: string[] = [];
    for (const slot of table.slots()) {
      if (table.float(slot, BLOCKED_UNTIL) > time) continue;
      const kept = table.float(slot, KEPT);
      const newest = kept === 0 ? 0 : table.float(slot, TIMES + kept - 1);
      if (newest <= time - this.#options.window) {
        stale.push(table.keyAt(slot));
      }
    }
    for (const key of stale) table.remove(table.find(table.keyOf(key)));
  }
}
