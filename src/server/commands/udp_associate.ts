/**
 * UDP ASSOCIATE (RFC 1928 §7): open a UDP relay, reply with its address,
 * and keep it exactly as long as the TCP control connection lives.
 *
 * @module
 */

import { replyForError } from "../../net/dial_error.ts";
import type { CommandHandler } from "../context.ts";
import { sendReply } from "../context.ts";
import { UdpRelay } from "../../net/udp_relay.ts";
import { toSocksAddress } from "../../wire/address.ts";
import { AddressType, Reply } from "../../wire/constants.ts";

/**
 * Serves a UDP ASSOCIATE request.
 *
 * @example
 * ```ts
 * import { udpAssociateCommand } from "./udp_associate.ts";
 * console.log(typeof udpAssociateCommand); // "function"
 * ```
 */
export const udpAssociateCommand: CommandHandler = async (context) => {
  const { client, request, server, scope, record } = context;
  const clientIp = context.clientAddress.host;
  // DST names where the client will send from, often zeros; some clients
  // put the target there instead, so the port binds only when the address
  // is the client's own.
  const { destination } = request;
  const namesClient = destination.type !== AddressType.Domain &&
    destination.host === clientIp && destination.port !== 0;
  let udp: UdpRelay;
  try {
    udp = await UdpRelay.open(server.network, {
      // The interface the client reached us on, so the client can reach it.
      bindHost: client.localAddress.host,
      client: { ip: clientIp, port: namesClient ? destination.port : null },
      permit: (target) =>
        server.config.rules.check({
          client: clientIp,
          user: context.user,
          command: "udp",
          ...target,
        }).allow,
    });
  } catch (error) {
    record.end = (error as Error)?.message ?? String(error);
    await sendReply(context, { reply: replyForError(error) });
    return;
  }
  try {
    const advertised = server.config.externalAddress ?? udp.address.host;
    await sendReply(context, {
      reply: Reply.Succeeded,
      bound: toSocksAddress(advertised, udp.address.port),
    });
    scope.relaying();
    // The association ends with the control connection; what the client
    // sends on it means nothing and is dropped.
    try {
      while (await client.read() !== null);
      record.end = "closed";
    } catch {
      record.end = "error";
    }
  } finally {
    udp.close();
    const { up, down, datagramsUp, datagramsDown, dropped } = udp.counts;
    Object.assign(record, { up, down, datagramsUp, datagramsDown, dropped });
  }
};
