/**
 * The whole platform surface the runtime-neutral code (`src/*.ts`,
 * `src/wire/`) may use beyond ES2022: web APIs that Deno, Bun and Node all
 * provide natively, declared only as far as the code uses them. Only
 * `tsconfig.core.json` includes this file, so any `Deno`, `Bun`, `process`,
 * `Buffer` or `node:` use there is a compile error. The codecs and the
 * handshake stay sans-IO by review: nothing here stops them calling
 * `setTimeout`.
 */

/** WHATWG Encoding: UTF-8 string to bytes. */
declare class TextEncoder {
  readonly encoding: string;
  encode(input?: string): Uint8Array<ArrayBuffer>;
  encodeInto(
    source: string,
    destination: Uint8Array,
  ): { read: number; written: number };
}

/** WHATWG Encoding: bytes to string. */
declare class TextDecoder {
  constructor(
    label?: string,
    options?: { fatal?: boolean; ignoreBOM?: boolean },
  );
  readonly encoding: string;
  readonly fatal: boolean;
  readonly ignoreBOM: boolean;
  decode(
    input?: ArrayBufferView | ArrayBuffer,
    options?: { stream?: boolean },
  ): string;
}

/** DOM `AbortSignal`: how a caller cancels a dial. */
interface AbortSignal {
  readonly aborted: boolean;
  readonly reason: unknown;
  throwIfAborted(): void;
  addEventListener(
    type: "abort",
    listener: () => void,
    options?: { once?: boolean },
  ): void;
  removeEventListener(type: "abort", listener: () => void): void;
}

/** DOM `AbortController`: the driver cancels the dial attempts it started. */
declare class AbortController {
  readonly signal: AbortSignal;
  abort(reason?: unknown): void;
}

declare const timerHandle: unique symbol;
/** A timer's handle: a number on Deno and Bun, an object on Node, so opaque. */
interface TimerHandle {
  readonly [timerHandle]: true;
}
/** HTML timers, for the driver's time limits; write `ReturnType<typeof setTimeout>`. */
declare function setTimeout(handler: () => void, delay?: number): TimerHandle;
declare function clearTimeout(handle: TimerHandle | undefined): void;

/** WHATWG Console, for the default logger's sink. */
declare const console: { error(...data: unknown[]): void };

/** HTML base64 over binary strings, for password hash entries. */
declare function atob(data: string): string;
declare function btoa(data: string): string;

declare const cryptoKey: unique symbol;
/** Web Crypto's `CryptoKey`, opaque: only handed back to `deriveBits`. */
interface CryptoKeyHandle {
  readonly [cryptoKey]: true;
}

/**
 * Web Crypto, as far as password hashing uses it: PBKDF2-HMAC-SHA256 for
 * stored passwords, SHA-256 for the login cache's keys.
 */
interface SubtleCrypto {
  importKey(
    format: "raw",
    keyData: Uint8Array<ArrayBuffer>,
    algorithm: "PBKDF2",
    extractable: false,
    keyUsages: "deriveBits"[],
  ): Promise<CryptoKeyHandle>;
  deriveBits(
    algorithm: {
      name: "PBKDF2";
      hash: "SHA-256";
      salt: Uint8Array<ArrayBuffer>;
      iterations: number;
    },
    baseKey: CryptoKeyHandle,
    length: number,
  ): Promise<ArrayBuffer>;
  digest(
    algorithm: "SHA-256",
    data: Uint8Array<ArrayBuffer>,
  ): Promise<ArrayBuffer>;
}

/** Web Crypto's global: random salts and secrets, and the subtle API. */
declare const crypto: {
  readonly subtle: SubtleCrypto;
  getRandomValues<T extends Uint8Array<ArrayBuffer>>(array: T): T;
};
