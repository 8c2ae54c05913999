import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  createLogger,
  LOG_LEVELS,
  type LogLevel,
  type LogSink,
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

// A sink that records each write and completes it only when told.
function heldSink() {
  const writes: string[] = [];
  const pending: (() => void)[] = [];
  const sink: LogSink = {
    write(chunk, done) {
      writes.push(chunk);
      pending.push(done);
    },
  };
  const release = () => {
    for (const done of pending.splice(0)) done();
  };
  return { sink, writes, pending, release };
}

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 5));
}

const lines = (chunks: string[]) =>
  chunks.join("").split("\n").slice(0, -1).map((line) => JSON.parse(line));

describe("createLogger({ sink })", () => {
  it("createLogger() writes the records of one turn in one write, in order", async () => {
    const { sink, writes, release } = heldSink();
    const logger = createLogger({ level: "info", format: "json", sink });
    for (let i = 0; i < 100; i++) {
      logger.log({ level: "info", msg: "access", n: i });
    }
    logger.log({ level: "debug", msg: "below the level" });
    assert.equal(writes.length, 0, "written before the turn ended");
    await nextTurn();
    assert.equal(writes.length, 1);
    assert.ok(writes[0]!.endsWith("\n"));
    const records = lines(writes);
    assert.deepEqual(records.map((r) => r.n), [...Array(100).keys()]);
    for (const record of records) assert.match(record.time, ISO_TIME);
    release();
    await logger.flush();
    assert.equal(writes.length, 1);
  });

  it("createLogger() writes at once when 64 KiB are queued", () => {
    const { sink, writes } = heldSink();
    const logger = createLogger({ level: "info", format: "json", sink });
    const note = "x".repeat(1000);
    let count = 0;
    while (writes.length === 0 && count < 200) {
      logger.log({ level: "info", msg: "access", note });
      count++;
    }
    assert.equal(writes.length, 1);
    assert.ok(writes[0]!.length >= 64 * 1024, String(writes[0]!.length));
    assert.ok(writes[0]!.length < 64 * 1024 + 1100);
    assert.equal(lines(writes).length, count);
  });

  it("createLogger() keeps one write in flight and the lines in order", async () => {
    const { sink, writes, pending, release } = heldSink();
    const logger = createLogger({ level: "info", format: "json", sink });
    logger.log({ level: "info", msg: "a", n: 0 });
    await nextTurn();
    assert.equal(writes.length, 1);
    for (let i = 1; i <= 5; i++) logger.log({ level: "info", msg: "a", n: i });
    await nextTurn();
    assert.equal(writes.length, 1, "a second write while one is in flight");
    assert.equal(pending.length, 1);
    release();
    assert.equal(writes.length, 2);
    release();
    assert.deepEqual(lines(writes).map((r) => r.n), [0, 1, 2, 3, 4, 5]);
  });

  it("flush() resolves once every line is written", async () => {
    const { sink, writes, release } = heldSink();
    const logger = createLogger({ level: "info", format: "json", sink });
    logger.log({ level: "info", msg: "one" });
    let flushed = false;
    const flushing = logger.flush().then(() => flushed = true);
    assert.equal(writes.length, 1, "flush() writes without waiting a turn");
    logger.log({ level: "info", msg: "two" });
    await nextTurn();
    assert.equal(flushed, false);
    release();
    assert.equal(writes.length, 2);
    await nextTurn();
    assert.equal(flushed, false, "flushed with a write in flight");
    release();
    await flushing;
    assert.deepEqual(lines(writes).map((r) => r.msg), ["one", "two"]);
  });

  it("flushSync() writes the queued lines before returning", () => {
    const writes: string[] = [];
    const logger = createLogger({
      level: "info",
      format: "text",
      sink: {
        write: () => assert.fail("async write"),
        writeSync: (c) => writes.push(c),
      },
    });
    logger.log({ level: "info", msg: "closing", signal: "SIGTERM" });
    logger.log({ level: "warn", msg: "late" });
    logger.flushSync();
    assert.equal(writes.length, 1);
    assert.match(
      writes[0]!,
      /^\S+ INFO {2}closing signal=SIGTERM\n\S+ WARN {2}late\n$/,
    );
    logger.flushSync();
    assert.equal(writes.length, 1);
  });

  it("createLogger() drops whole lines past maxBuffered, counts them, and warns once", async () => {
    const { sink, writes, release } = heldSink();
    const logger = createLogger({
      level: "info",
      format: "json",
      sink,
      maxBuffered: 10_000,
    });
    const note = "y".repeat(900);
    for (let i = 0; i < 100; i++) {
      logger.log({ level: "info", msg: "access", n: i, note });
    }
    await nextTurn();
    // The sink never drains: nothing more goes out, and memory stays bounded.
    for (let turn = 0; turn < 3; turn++) {
      for (let i = 100; i < 200; i++) {
        logger.log({ level: "info", msg: "access", n: i, note });
      }
      await nextTurn();
    }
    assert.equal(writes.length, 1);
    const kept = lines(writes);
    assert.ok(writes[0]!.length <= 10_000);
    assert.equal(kept.length, 10);
    assert.deepEqual(kept.map((r) => r.n), [...Array(10).keys()]);
    assert.equal(logger.dropped, 390);
    release();
    // The sink caught up: one warning with the count, then nothing queued.
    assert.equal(writes.length, 2);
    assert.deepEqual(lines([writes[1]!]).map(({ time: _, ...r }) => r), [{
      level: "warn",
      msg: "log lines dropped: the log output is slower than the server",
      dropped: 390,
    }]);
    release();
    await logger.flush();
    logger.log({ level: "info", msg: "after", n: 1000 });
    const flushing = logger.flush();
    release();
    await flushing;
    assert.equal(writes.length, 3);
    assert.equal(lines([writes[2]!])[0].msg, "after");
    assert.equal(logger.dropped, 390);
  });

  it("createLogger() never splits or interleaves lines across writes", async () => {
    const { sink, writes, release } = heldSink();
    const logger = createLogger({ level: "info", format: "json", sink });
    for (let turn = 0; turn < 20; turn++) {
      for (let i = 0; i < 50; i++) {
        logger.log({
          level: "info",
          msg: "access",
          n: turn * 50 + i,
          pad: "z".repeat(i * 40),
        });
      }
      if (turn % 3 === 0) release();
      await nextTurn();
    }
    for (let i = 0; i < 10 && writes.length > 0; i++) {
      release();
      await nextTurn();
    }
    await logger.flush();
    for (const chunk of writes) {
      assert.ok(chunk.endsWith("\n"));
      for (const line of chunk.slice(0, -1).split("\n")) JSON.parse(line);
    }
    assert.deepEqual(lines(writes).map((r) => r.n), [...Array(1000).keys()]);
    assert.equal(logger.dropped, 0);
  });

  it("createLogger() writes a line even when a field cannot be JSON", async () => {
    const { sink, writes } = heldSink();
    const logger = createLogger({ level: "info", format: "json", sink });
    logger.log({ level: "error", msg: "odd", big: 1n });
    await nextTurn();
    assert.deepEqual(lines(writes).map(({ time: _, ...r }) => r), [{
      level: "error",
      msg: "odd",
    }]);
  });
});
