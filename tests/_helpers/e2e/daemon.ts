/**
 * Third-party servers the tests run as child processes (microsocks,
 * HAProxy): started in the foreground, awaited until they listen, and
 * stopped by their PID.
 *
 * @module
 */

import { type ChildProcess, spawn } from "node:child_process";
import * as net from "node:net";
import { delay, withTimeout } from "./with_timeout.ts";

/**
 * Spawns `command` (a daemon that stays in the foreground) and waits until
 * it accepts on 127.0.0.1:`port`; returns what stops it: a kill by PID, a
 * bounded wait for its exit, then `cleanup`. Its stderr is in the error if
 * it never listens.
 */
export async function startListeningChild(
  name: string,
  command: readonly string[],
  options: { port: number; cleanup?: () => void },
): Promise<() => Promise<void>> {
  const [file, ...args] = command;
  const child = spawn(file!, args, { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr?.on("data", (chunk) => stderr += String(chunk));
  const exited = new Promise<void>((resolve) => {
    child.once("exit", () => resolve());
    child.once("error", () => resolve());
  });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill();
    await withTimeout(exited, 5_000, `${name} to exit`);
    options.cleanup?.();
  };
  try {
    await untilListening(child, options.port);
  } catch (error) {
    await stop();
    throw new Error(`${name} did not start: ${error} ${stderr}`.trim());
  }
  return stop;
}

/**
 * Polls until a TCP connect to 127.0.0.1:`port` succeeds, failing if
 * `child` exits first: bounded to 50 tries, 5 s.
 */
export async function untilListening(
  child: ChildProcess,
  port: number,
): Promise<void> {
  for (let attempt = 0; attempt < 50; attempt++) {
    if (child.exitCode !== null) {
      throw new Error(`it exited with ${child.exitCode}`);
    }
    const ok = await withTimeout(
      new Promise<boolean>((resolve) => {
        const socket = net.connect({ host: "127.0.0.1", port });
        socket.once("connect", () => {
          socket.destroy();
          resolve(true);
        });
        socket.once("error", () => resolve(false));
      }),
      1_000,
      `connecting to port ${port}`,
    ).catch(() => false);
    if (ok) return;
    await delay(100);
  }
  throw new Error(`nothing listens on port ${port} after 5 s`);
}
