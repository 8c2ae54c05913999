import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  hostOf,
  Inbox,
  nextReadSize,
} from "../../../src/net/adapters/_shared.ts";

function recordingFlow() {
  const calls: string[] = [];
  return {
    calls,
    flow: {
      pause: () => calls.push("pause"),
      resume: () => calls.push("resume"),
    },
  };
}

const a = new Uint8Array([1]);
const b = new Uint8Array([2]);
const c = new Uint8Array([3]);

describe("Inbox", () => {
  it("read() gives pushed items in order and pauses while they queue", async () => {
    const { calls, flow } = recordingFlow();
    const inbox = new Inbox(flow);
    inbox.push(a);
    inbox.push(b);
    assert.deepEqual(calls, ["pause", "pause"]);
    assert.equal(await inbox.read(), a);
    assert.deepEqual(calls, ["pause", "pause"]);
    assert.equal(await inbox.read(), b);
    assert.deepEqual(calls, ["pause", "pause", "resume"]);
  });

  it("read() resumes the source and waits when nothing is queued", async () => {
    const { calls, flow } = recordingFlow();
    const inbox = new Inbox(flow);
    const pending = inbox.read();
    assert.deepEqual(calls, ["resume"]);
    inbox.push(a);
    assert.equal(await pending, a);
    assert.deepEqual(calls, ["resume"]);
    inbox.push(b);
    assert.deepEqual(calls, ["resume", "pause"]);
    assert.equal(await inbox.read(), b);
    assert.deepEqual(calls, ["resume", "pause", "resume"]);
  });

  it("end(null) gives the queued items, then null for good", async () => {
    const { calls, flow } = recordingFlow();
    const inbox = new Inbox(flow);
    inbox.push(a);
    inbox.end(null);
    inbox.push(b);
    assert.equal(await inbox.read(), a);
    assert.equal(await inbox.read(), null);
    assert.equal(await inbox.read(), null);
    assert.deepEqual(calls, ["pause"]);
  });

  it("end(null) answers a waiting read with null", async () => {
    const { flow } = recordingFlow();
    const inbox = new Inbox(flow);
    const pending = inbox.read();
    inbox.end(null);
    assert.equal(await pending, null);
    assert.equal(await inbox.read(), null);
  });

  it("end(error) rejects a waiting read once, then gives null", async () => {
    const { flow } = recordingFlow();
    const inbox = new Inbox(flow);
    const error = new Error("reset");
    const pending = inbox.read();
    inbox.end(error);
    await assert.rejects(pending, (e) => e === error);
    assert.equal(await inbox.read(), null);
    assert.equal(await inbox.read(), null);
  });

  it("end(error) rejects after the queue drains, once", async () => {
    const { flow } = recordingFlow();
    const inbox = new Inbox(flow);
    const error = new Error("reset");
    inbox.push(a);
    inbox.push(b);
    inbox.end(error);
    inbox.end(new Error("second"));
    inbox.push(c);
    assert.equal(await inbox.read(), a);
    assert.equal(await inbox.read(), b);
    await assert.rejects(inbox.read(), (e) => e === error);
    assert.equal(await inbox.read(), null);
  });

  it("deliverTo() hands over what is queued, then each item as it comes, then the end", async () => {
    const { calls, flow } = recordingFlow();
    const inbox = new Inbox(flow);
    inbox.push(a);
    const got: unknown[] = [];
    inbox.deliverTo({
      data: (item) => got.push(item),
      end: (error) => got.push(["end", error]),
    });
    assert.deepEqual(got, [a]);
    assert.deepEqual(calls, ["pause", "resume"]);
    inbox.push(b);
    inbox.end(null);
    inbox.end(new Error("late"));
    assert.deepEqual(got, [a, b, ["end", null]]);
    // The end went to the receiver: read() gives null, not the error.
    assert.equal(await inbox.read(), null);
  });

  it("deliverTo() gives an end that came before it, error included, once", async () => {
    const inbox = new Inbox(recordingFlow().flow);
    inbox.push(a);
    inbox.end(new Error("reset"));
    const got: unknown[] = [];
    inbox.deliverTo({
      data: (item) => got.push(item),
      end: (error) => got.push((error as Error).message),
    });
    assert.deepEqual(got, [a, "reset"]);
    assert.equal(await inbox.read(), null);
  });

  it("deliverTo(null) from within data() leaves the rest queued for read()", async () => {
    const { calls, flow } = recordingFlow();
    const inbox = new Inbox(flow);
    inbox.push(a);
    inbox.push(b);
    const got: unknown[] = [];
    inbox.deliverTo({
      data(item) {
        got.push(item);
        inbox.deliverTo(null);
      },
      end: () => got.push("end"),
    });
    inbox.push(c);
    inbox.end(null);
    assert.deepEqual(got, [a]);
    assert.deepEqual(calls, ["pause", "pause", "pause"]);
    assert.equal(await inbox.read(), b);
    assert.equal(await inbox.read(), c);
    assert.equal(await inbox.read(), null);
  });

  it("Inbox carries any item type", async () => {
    const { flow } = recordingFlow();
    const inbox = new Inbox<string>(flow);
    inbox.push("conn");
    assert.equal(await inbox.read(), "conn");
  });
});

describe("hostOf", () => {
  it("hostOf() normalises socket host text", () => {
    const cases: Array<[string | undefined, string]> = [
      [undefined, "0.0.0.0"],
      ["", "0.0.0.0"],
      ["127.0.0.1", "127.0.0.1"],
      ["::ffff:127.0.0.1", "127.0.0.1"],
      ["::FFFF:10.1.2.3", "10.1.2.3"],
      ["::1", "::1"],
      ["0:0:0:0:0:0:0:1", "::1"],
      ["2001:DB8:0:0:0:0:0:1", "2001:db8::1"],
      ["localhost", "localhost"],
    ];
    for (const [input, expected] of cases) {
      assert.equal(hostOf(input), expected, String(input));
    }
  });
});

describe("nextReadSize()", () => {
  const sizes = { min: 1024, max: 256 * 1024 };

  it("doubles after a full read, up to the largest", () => {
    assert.equal(nextReadSize(1024, 1024, sizes), 2048);
    assert.equal(nextReadSize(128 * 1024, 128 * 1024, sizes), 256 * 1024);
    assert.equal(nextReadSize(256 * 1024, 256 * 1024, sizes), 256 * 1024);
  });

  it("keeps the size after a read that took a quarter or more", () => {
    assert.equal(nextReadSize(64 * 1024, 64 * 1024 - 1, sizes), 64 * 1024);
    assert.equal(nextReadSize(64 * 1024, 16 * 1024, sizes), 64 * 1024);
  });

  it("shrinks to fit a read that took under a quarter, not below the smallest", () => {
    assert.equal(nextReadSize(256 * 1024, 5000, sizes), 8192);
    assert.equal(nextReadSize(256 * 1024, 4096, sizes), 4096);
    assert.equal(nextReadSize(64 * 1024, 1, sizes), 1024);
    assert.equal(nextReadSize(4096, 1023, sizes), 1024);
  });
});
