import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ReplyError, replyForError } from "../../src/net/dial_error.ts";

const byCode: Array<[string, number]> = [
  ["ENETDOWN", 0x03],
  ["ENETUNREACH", 0x03],
  ["EHOSTDOWN", 0x04],
  ["EHOSTUNREACH", 0x04],
  ["ENOTFOUND", 0x04],
  ["EAI_NONAME", 0x04],
  ["EAI_NODATA", 0x04],
  ["EAI_FAIL", 0x04],
  ["EAI_AGAIN", 0x04],
  ["ENODATA", 0x04],
  ["ECONNREFUSED", 0x05],
  ["ECONNRESET", 0x05],
  ["ETIMEDOUT", 0x06],
  ["EACCES", 0x02],
  ["EPERM", 0x02],
  ["EADDRINUSE", 0x01],
  ["ERR_SOCKET_CLOSED", 0x01],
];

// Deno throws error classes named after the error kind.
const byName: Array<[string, number]> = [
  ["NetworkUnreachable", 0x03],
  ["HostUnreachable", 0x04],
  ["DNSException", 0x04],
  ["ConnectionRefused", 0x05],
  ["ConnectionReset", 0x05],
  ["TimedOut", 0x06],
  ["TimeoutError", 0x06],
  ["PermissionDenied", 0x02],
  ["AbortError", 0x01],
  ["Error", 0x01],
  ["NotFound", 0x01],
];

describe("replyForError", () => {
  it("replyForError() maps errno codes", () => {
    for (const [code, reply] of byCode) {
      const error = Object.assign(new Error("x"), { code });
      assert.equal(replyForError(error), reply, code);
    }
  });

  it("replyForError() maps Deno error names", () => {
    for (const [name, reply] of byName) {
      assert.equal(replyForError({ name }), reply, name);
      const error = new Error("x");
      error.name = name;
      assert.equal(replyForError(error), reply, `Error named ${name}`);
    }
  });

  it("replyForError() prefers a known code to the name", () => {
    assert.equal(
      replyForError({ name: "ConnectionRefused", code: "ENETUNREACH" }),
      0x03,
    );
    assert.equal(
      replyForError({ name: "ConnectionRefused", code: "EUNKNOWN" }),
      0x05,
    );
    assert.equal(replyForError({ name: "ConnectionRefused", code: 111 }), 0x05);
  });

  it("replyForError() maps AbortSignal.timeout()'s reason to 0x06", () => {
    const reason = new DOMException("timed out", "TimeoutError");
    assert.equal(replyForError(reason), 0x06);
  });

  it("replyForError() gives 0x01 for anything it does not know", () => {
    for (const error of [undefined, null, "ECONNREFUSED", 5, {}, new Error()]) {
      assert.equal(replyForError(error), 0x01, String(error));
    }
  });

  it("replyForError() gives a ReplyError's own reply", () => {
    const error = new ReplyError(0x04, "Cannot resolve a.test: no addresses");
    assert.equal(replyForError(error), 0x04);
    assert.equal(replyForError(new ReplyError(0x06, "late")), 0x06);
  });

  it("ReplyError carries its reply, name and message", () => {
    const error = new ReplyError(0x06, "Cannot connect: timed out");
    assert.ok(error instanceof Error);
    assert.equal(error.name, "ReplyError");
    assert.equal(error.message, "Cannot connect: timed out");
    assert.equal(error.reply, 0x06);
  });
});
