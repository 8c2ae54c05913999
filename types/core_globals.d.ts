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
