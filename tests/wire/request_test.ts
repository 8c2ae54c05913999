import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Command, Reply } from "../../src/wire/constants.ts";
import { decodeRequest, encodeRequest } from "../../src/wire/request.ts";
import { itDecodesEveryWay, itRefuses } from "../_helpers/feed.ts";
import { b, REQUEST_INVALID, REQUEST_VECTORS } from "../_helpers/vectors.ts";

const TO_LOOPBACK = { type: 0x01, host: "127.0.0.1", port: 80 } as const;

describe("request", () => {
  for (const vector of REQUEST_VECTORS) {
    itDecodesEveryWay("decodeRequest()", decodeRequest, vector);
  }
  for (const vector of REQUEST_INVALID) {
    itRefuses("decodeRequest()", decodeRequest, vector);
  }

  it("decodeRequest() asks for the shortest request, 8 bytes, until ATYP arrives", () => {
    // 05 01 00 03 01 61 00 50 is a whole request: needed never overshoots it.
    for (let k = 0; k < 4; k++) {
      assert.deepEqual(decodeRequest(b(5, 1, 0).subarray(0, k)), {
        status: "partial",
        needed: 8 - k,
      });
    }
  });

  it("decodeRequest() reports every command other than 1-3 as 0x07 at offset 1", () => {
    for (let command = 0; command < 256; command++) {
      const result = decodeRequest(b(0x05, command));
      if (command >= 1 && command <= 3) {
        assert.deepEqual(result, { status: "partial", needed: 6 });
      } else {
        assert.equal(result.status, "invalid");
        assert.equal(result.error.code, "unsupported_command");
        assert.equal(result.error.offset, 1);
        assert.equal(result.error.reply, Reply.CommandNotSupported);
      }
    }
  });

  it("decodeRequest() reports every address type other than 1, 3, 4 as 0x08 at offset 3", () => {
    for (let type = 0; type < 256; type++) {
      const result = decodeRequest(b(0x05, 0x01, 0x00, type));
      if (type === 1 || type === 3 || type === 4) {
        assert.equal(result.status, "partial");
      } else {
        assert.deepEqual(result, {
          status: "invalid",
          error: {
            code: "unsupported_address_type",
            message: `Cannot decode request: address type 0x${
              type.toString(16).padStart(2, "0")
            } is not supported`,
            offset: 3,
            reply: Reply.AddressTypeNotSupported,
          },
        });
      }
    }
  });

  it("encodeRequest() writes the exact bytes of every vector", () => {
    for (const vector of REQUEST_VECTORS.filter((v) => v.canonical)) {
      const out = encodeRequest(vector.value);
      assert.deepEqual(out, vector.bytes, vector.name);
      assert.equal(out.buffer.byteLength, out.length, "allocated exactly");
    }
  });

  it("encodeRequest() writes IPv6 text of any form as its 16 bytes", () => {
    const out = encodeRequest({
      command: Command.Connect,
      destination: { type: 0x04, host: "2001:DB8:0:0:0:0:0:0001", port: 1 },
    });
    assert.deepEqual(
      out,
      b(5, 1, 0, 4, 0x20, 0x01, 0x0d, 0xb8, new Array(11).fill(0), 1, 0, 1),
    );
  });

  it("encodeRequest() refuses an unsupported command with a TypeError", () => {
    for (const [command, name] of [[0, "0x00"], [4, "0x04"], [255, "0xff"]]) {
      assert.throws(
        () =>
          encodeRequest({
            command: command as Command,
            destination: TO_LOOPBACK,
          }),
        {
          name: "TypeError",
          message: `Cannot encode request: command ${name} is not supported`,
        },
      );
    }
  });

  it("encodeRequest() refuses a port outside 0-65535 or not an integer", () => {
    for (const port of [70000, 65536, -1, 1.5, NaN]) {
      assert.throws(
        () =>
          encodeRequest({
            command: Command.Connect,
            destination: { ...TO_LOOPBACK, port },
          }),
        {
          name: "RangeError",
          message:
            `Cannot encode address: port ${port} is not an integer in 0-65535`,
        },
      );
    }
  });

  it("encodeRequest() refuses an empty or 256-byte domain", () => {
    for (
      const [host, bytes] of [["", 0], ["d".repeat(256), 256], [
        "é".repeat(128),
        256,
      ]] as const
    ) {
      assert.throws(
        () =>
          encodeRequest({
            command: Command.Connect,
            destination: { type: 0x03, host, port: 80 },
          }),
        {
          name: "RangeError",
          message: `Cannot encode address: domain is ${bytes} bytes, not 1-255`,
        },
      );
    }
  });
});
