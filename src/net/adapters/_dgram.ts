/**
 * UDP through `node:dgram`, shared by the Node and Deno adapters: Deno runs
 * `node:dgram` without `--unstable-net`, which its own `Deno.listenDatagram`
 * still needs, so library users need no extra flag.
 *
 * @module
 */

import * as dgram from "node:dgram";
import type { Datagram, UdpSocket } from "../connection.ts";
import type { HostPort } from "../../wire/address.ts";
import { hostOf } from "./_shared.ts";

/**
 * Binds a UDP socket of the address's family (IPv6 ones are dual-stack).
 *
 * @example
 * ```ts
 * import { bindDgram } from "./_dgram.ts";
 * const socket = await bindDgram({ host: "127.0.0.1", port: 0 }, () => {});
 * socket.close();
 * ```
 */
export async function bindDgram(
  address: HostPort,
  onDatagram: (datagram: Datagram) => void,
): Promise<UdpSocket> {
  const socket = dgram.createSocket(
    address.host.includes(":") ? "udp6" : "udp4",
  );
  await new Promise<void>((resolve, reject) => {
    socket.once("error", reject);
    socket.bind(address.port, address.host, () => {
      socket.off("error", reject);
      resolve();
    });
  });
  // ICMP errors (port unreachable) surface here; for UDP they are not fatal.
  socket.on("error", () => {});
  socket.on("message", (message, remote) => {
    onDatagram({
      data: new Uint8Array(
        message.buffer,
        message.byteOffset,
        message.byteLength,
      ),
      host: hostOf(remote.address),
      port: remote.port,
    });
  });
  const bound = socket.address();
  let closed = false;
  return {
    address: { host: hostOf(bound.address), port: bound.port },
    send({ data, host, port }) {
      if (closed) return;
      // A callback makes send errors (no route, wrong family) non-fatal.
      socket.send(data, port, host, () => {});
    },
    close() {
      if (closed) return;
      closed = true;
      socket.close();
    },
  };
}
