/**
 * The `edgesocks` command, the same on Deno, Bun and Node: parse flags,
 * read users files, serve, and close gracefully on SIGINT or SIGTERM.
 *
 * Exit codes: 0 after a signal, 1 when the server cannot start (an address
 * in use), 2 for a usage mistake.
 *
 * @module
 */

import { readFile } from "node:fs/promises";
import process from "node:process";
import {
  HELP,
  parseCommandLine,
  parseUsers,
  UsageError,
} from "./cli/parse_args.ts";
import { createLogger } from "./logger.ts";
import type { ServeOptions } from "./options.ts";
import { serve } from "./serve.ts";
import { VERSION } from "./version.ts";
import { formatHostPort } from "./wire/address.ts";

async function main(args: string[]): Promise<number> {
  const command = parseCommandLine(args);
  if (command.kind === "help") {
    process.stdout.write(HELP);
    return 0;
  }
  if (command.kind === "version") {
    process.stdout.write(`edgesocks ${VERSION}\n`);
    return 0;
  }
  const users = new Map(Object.entries(command.options.users ?? {}));
  for (const file of command.usersFiles) {
    for (const [name, password] of await readUsersFile(file)) {
      if (users.has(name)) {
        throw new UsageError(`--users ${file}: user "${name}" is given twice`);
      }
      users.set(name, password);
    }
  }
  const logger = createLogger({
    level: command.logLevel,
    format: command.logFormat ?? (process.stderr.isTTY ? "text" : "json"),
    write: (line) => process.stderr.write(`${line}\n`),
  });
  const options: ServeOptions = { ...command.options, logger };
  if (users.size > 0) options.users = users;
  let server;
  try {
    server = await serve(options);
  } catch (error) {
    throw asUsageError(error);
  }
  for (const address of server.addresses) {
    process.stdout.write(`edgesocks listening on ${formatHostPort(address)}\n`);
  }
  const running = server;
  await new Promise<void>((resolve) => {
    let closing = false;
    const onSignal = (signal: NodeJS.Signals) => {
      // A second signal while tunnels drain ends the process at once.
      if (closing) process.exit(signal === "SIGINT" ? 130 : 143);
      closing = true;
      logger.log({ level: "info", msg: "closing", signal });
      running.close().then(() => {
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
        resolve();
      });
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  });
  return 0;
}

async function readUsersFile(file: string): Promise<Map<string, string>> {
  let text;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    throw new UsageError(
      `--users ${file}: cannot read it: ${(error as Error).message}`,
    );
  }
  const lines = text.split(/\r?\n/);
  const entries: string[] = [];
  const lineNumbers: number[] = [];
  lines.forEach((line, index) => {
    if (line.trim() === "" || line.trimStart().startsWith("#")) return;
    entries.push(line);
    lineNumbers.push(index + 1);
  });
  if (entries.length === 0) {
    throw new UsageError(`--users ${file}: it lists no users`);
  }
  return parseUsers(entries, (i) => `--users ${file}: line ${lineNumbers[i]}`);
}

// serve() names option keys ("Invalid option idleTimeout: …"); the command
// line speaks of flags.
function asUsageError(error: unknown): unknown {
  const match = /^Invalid option (\w+): (.*)$/s.exec((error as Error)?.message);
  if (!(error instanceof TypeError) || match === null) return error;
  const flag = match[1]!.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
  return new UsageError(`--${flag}: ${match[2]}`);
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  const usage = error instanceof UsageError;
  process.stderr.write(
    `edgesocks: ${(error as Error)?.message ?? String(error)}${
      usage ? " (see --help)" : ""
    }\n`,
  );
  process.exitCode = usage ? 2 : 1;
}
process.exit();
