import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  createLogger,
  LOG_LEVELS,
  type LogLevel,
} from "../../src/observe/logger.ts";

const ISO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

function capture(level: LogLevel, format: "json" | "text") {
  const lines: string[] = [];
  const logger = createLogger({ level, format, write: (l) => lines.push(l) });
  return { lines, logger };
}

describe("createLogger", () => {
  it("LOG_LEVELS lists the levels lowest first", () => {
    assert.deepEqual(LOG_LEVELS, ["debug", "info", "warn", "error", "silent"]);
  });

  it("createLogger() drops records below its level", () => {
    const expected: Record<LogLevel, string[]> = {
      debug: ["debug", "info", "warn", "error"],
      info: ["info", "warn", "error"],
      warn: ["warn", "error"],
      error: ["error"],
      silent: [],
    };
    for (const level of LOG_LEVELS) {
      const { lines, logger } = capture(level, "json");
      for (const recordLevel of ["debug", "info", "warn", "error"] as const) {
        logger.log({ level: recordLevel, msg: recordLevel });
      }
      assert.deepEqual(
        lines.map((line) => JSON.parse(line).msg),
        expected[level],
        level,
      );
    }
  });

  it("createLogger() writes one JSON object a line, time first", () => {
    const { lines, logger } = capture("info", "json");
    logger.log({
      level: "info",
      msg: "access",
      client: "127.0.0.1:50000",
      user: null,
      reply: 0,
      up: 12,
      skipped: undefined,
    });
    assert.equal(lines.length, 1);
    const line = lines[0]!;
    assert.ok(!line.includes("\n"));
    const parsed = JSON.parse(line);
    assert.match(parsed.time, ISO_TIME);
    assert.deepEqual(Object.keys(parsed), [
      "time",
      "level",
      "msg",
      "client",
      "user",
      "reply",
      "up",
    ]);
    assert.deepEqual(
      { ...parsed, time: "T" },
      {
        time: "T",
        level: "info",
        msg: "access",
        client: "127.0.0.1:50000",
        user: null,
        reply: 0,
        up: 12,
      },
    );
  });

  it("createLogger() writes text as time LEVEL msg key=value", () => {
    const { lines, logger } = capture("debug", "text");
    logger.log({
      level: "warn",
      msg: "handshake failed",
      client: "127.0.0.1:50000",
      user: undefined,
      reason: "auth_failed",
      reply: 5,
      ok: false,
      nothing: null,
      list: [1, "a"],
    });
    logger.log({ level: "info", msg: "closed" });
    logger.log({ level: "error", msg: "e", note: "two words" });
    assert.equal(lines.length, 3);
    const [first, second, third] = lines.map((line) => {
      const space = line.indexOf(" ");
      assert.match(line.slice(0, space), ISO_TIME);
      return line.slice(space + 1);
    });
    assert.equal(
      first,
      'WARN  handshake failed client=127.0.0.1:50000 reason=auth_failed reply=5 ok=false nothing=null list=[1,"a"]',
    );
    assert.equal(second, "INFO  closed");
    assert.equal(third, 'ERROR e note="two words"');
  });
});
