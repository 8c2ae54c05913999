/**
 * The settings of the serve command, read from flags, the config file and
 * users files: the main thread and every worker build their options here.
 *
 * @module
 */

import { readFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { buildSettings, type Command } from "./parse_args.ts";
import { type Settings, UsageError } from "./settings.ts";
import type { Logger } from "../observe/logger.ts";
import type { ServeOptions } from "../server/options.ts";
import { parseUsersFile, UsersFileError } from "../auth/users_file.ts";
import { type HostPort, parseHostPort } from "../wire/address.ts";

/** The serve command as parsed from the command line. */
export type ServeCommand = Extract<Command, { kind: "serve" }>;

/** The flags, over the config file when --config names one. */
export async function loadSettings(command: ServeCommand): Promise<Settings> {
  const file = command.configFile;
  if (file === null) return buildSettings(command);
  const text = await readText(file, "--config");
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    // The engines' messages quote the text, which may hold a password.
    throw new UsageError(`--config ${file}: not valid JSON`);
  }
  const settings = buildSettings(command, { value, file });
  // Users files named in the config file are relative to it.
  const fromFile = (value as { users?: unknown }).users;
  if (!command.flags.some((flag) => flag.name === "users") && fromFile) {
    settings.usersFiles = settings.usersFiles.map((path) =>
      resolve(dirname(file), path)
    );
  }
  return settings;
}

/** The options `serve()` takes for `settings`, users files read. */
export async function serveOptions(
  settings: Settings,
  logger: Logger,
): Promise<ServeOptions> {
  const users = new Map(settings.options.users as Map<string, string>);
  for (const file of settings.usersFiles) {
    let parsed;
    try {
      parsed = parseUsersFile(await readText(file, "--users"), file);
    } catch (error) {
      if (error instanceof UsersFileError) {
        throw new UsageError(`--users ${error.message}`);
      }
      throw error;
    }
    for (const [name, secret] of parsed.users) {
      if (users.has(name)) {
        throw new UsageError(`--users ${file}: user "${name}" is given twice`);
      }
      users.set(name, secret);
    }
    for (const name of parsed.plaintext) {
      logger.log({
        level: "warn",
        msg: "plaintext password in users file; use edgesocks hash-password",
        file,
        user: name,
      });
    }
  }
  const options: ServeOptions = {
    ...settings.options,
    rules: settings.rules,
    logger,
  };
  if (users.size > 0) options.users = users;
  return options;
}

async function readText(file: string, flag: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch (error) {
    throw new UsageError(
      `${flag} ${file}: cannot read it: ${(error as Error).message}`,
    );
  }
}

/**
 * `serve()` names option keys ("Invalid option idleTimeout: …"); the
 * command line speaks of flags.
 */
export function asUsageError(error: unknown): unknown {
  const match = /^Invalid option ([\w.]+): (.*)$/s.exec(
    (error as Error)?.message,
  );
  if (!(error instanceof TypeError) || match === null) return error;
  const flag = match[1]!.replace(/^limits\./, "").replace(
    /[A-Z]/g,
    (c) => `-${c.toLowerCase()}`,
  );
  return new UsageError(`--${flag}: ${match[2]}`);
}

/** The `--metrics` address, or a usage error naming the flag. */
export function parseMetricsAddress(text: string): HostPort {
  try {
    return parseHostPort(text);
  } catch (error) {
    throw new UsageError(
      `--metrics: ${
        (error as Error).message.replace(/^Cannot parse address: /, "")
      }`,
    );
  }
}
