/**
 * CONNECT (RFC 1928 §4): dial the destination, reply with the local address
 * of the outbound socket, then relay.
 *
 * @module
 */

import { AccessDenied, dial } from "../../net/dial.ts";
import { replyForError } from "../../net/dial_error.ts";
import { relay } from "../../net/relay.ts";
import type { Connection } from "../../net/connection.ts";
import type { CommandHandler, RequestContext } from "../context.ts";
import { sendReply } from "../context.ts";
import { formatHostPort, toSocksAddress } from "../../wire/address.ts";
import { AddressType, Reply } from "../../wire/constants.ts";

/**
 * Serves a CONNECT request.
 *
 * @example
 * ```ts
 * import { connectCommand } from "./connect.ts";
 * console.log(typeof connectCommand); // "function"
 * ```
 */
export const connectCommand: CommandHandler = async (context) => {
  const { client, record, scope, server } = context;
  const { config, sessions } = server;
  let target;
  try {
    target = await dialFor(context);
  } catch (error) {
    record.end = (error as Error)?.message ?? String(error);
    if (error instanceof AccessDenied) record.rule = error.rule;
    await sendReply(context, { reply: replyForError(error) });
    return;
  }
  scope.adopt(target);
  const release = sessions.open(
    context.clientAddress.host,
    context.user,
    target.localAddress.host,
  );
  try {
    record.remote = formatHostPort(target.remoteAddress);
    const local = target.localAddress;
    await sendReply(context, {
      reply: Reply.Succeeded,
      bound: toSocksAddress(local.host, local.port),
    });
    scope.relaying();
    if (context.leftover.length > 0) {
      record.up += context.leftover.length;
      await target.write(context.leftover);
    }
    const result = await relay(client, target, {
      idleTimeout: config.idleTimeout,
    });
    record.up += result.up;
    record.down = result.down;
    record.end = result.end;
  } finally {
    release();
    target.close();
  }
};

// The dial, in a function of its own so that its controller and rule check
// are let go once it is over instead of living as long as the tunnel.
async function dialFor(context: RequestContext): Promise<Connection> {
  const { request, server, scope } = context;
  const { config } = server;
  const controller = new AbortController();
  const dialled = scope.abortOnClose(controller);
  try {
    return await dial(server.network, {
      ...request.destination,
      timeout: config.connectTimeout,
      controller,
      permit: (address) =>
        config.rules.check({
          client: context.clientAddress.host,
          user: context.user,
          command: "connect",
          name: request.destination.type === AddressType.Domain
            ? request.destination.host
            : null,
          address,
          port: request.destination.port,
        }),
    });
  } finally {
    dialled();
  }
}
