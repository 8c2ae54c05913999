/**
 * Standard error as a {@linkcode LogSink} that never blocks the event loop,
 * whatever it is (a terminal, a file, a pipe nobody reads).
 *
 * Each runtime needs its own call for that: Node's `process.stderr` writes
 * a pipe without blocking and queues what the pipe does not take; Bun's
 * does the same; Deno's `process.stderr.write()` blocks until a full pipe
 * is read, so on Deno the sink uses the asynchronous `Deno.stderr.write()`.
 *
 * @module
 */

import { writeSync } from "node:fs";
import process from "node:process";
import type { LogSink } from "../observe/logger.ts";

// The part of Deno's API used here, so the file type-checks under Node's
// types too.
interface DenoStderr {
  write(bytes: Uint8Array): Promise<number>;
  writeSync(bytes: Uint8Array): number;
}

/** How long a process that is exiting waits for a full pipe to take its last lines. */
const EXIT_WAIT_MS = 2_000;

/** Standard error of this process, for a batching logger. */
export function stderrSink(): LogSink {
  const deno = (globalThis as { Deno?: { stderr: DenoStderr } }).Deno;
  return deno === undefined ? nodeSink() : denoSink(deno.stderr);
}

function nodeSink(): LogSink {
  // A closed stderr (EPIPE) costs the log, not the process.
  process.stderr.on("error", () => {});
  return {
    write(chunk, done) {
      process.stderr.write(chunk, () => done());
    },
    writeSync(chunk) {
      const bytes = new TextEncoder().encode(chunk);
      const deadline = Date.now() + EXIT_WAIT_MS;
      let offset = 0;
      while (offset < bytes.length) {
        try {
          offset += writeSync(2, bytes, offset);
        } catch (error) {
          // The pipe is set non-blocking: full is EAGAIN, so try again.
          const code = (error as { code?: string }).code;
          if (code !== "EAGAIN" || Date.now() > deadline) return;
        }
      }
    },
  };
}

function denoSink(stderr: DenoStderr): LogSink {
  const encoder = new TextEncoder();
  return {
    write(chunk, done) {
      const bytes = encoder.encode(chunk);
      const rest = (offset: number): void => {
        if (offset >= bytes.length) return done();
        stderr.write(bytes.subarray(offset)).then(
          (written) => rest(offset + written),
          () => done(),
        );
      };
      rest(0);
    },
    writeSync(chunk) {
      const bytes = encoder.encode(chunk);
      let offset = 0;
      while (offset < bytes.length) {
        try {
          offset += stderr.writeSync(bytes.subarray(offset));
        } catch {
          return;
        }
      }
    },
  };
}
