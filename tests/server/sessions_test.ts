import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { SessionTable } from "../../src/server/sessions.ts";

describe("SessionTable", () => {
  it("open() counts per client address and user", () => {
    const sessions = new SessionTable();
    assert.equal(sessions.total, 0);
    sessions.open("10.0.0.1", "alice", "192.0.2.1");
    sessions.open("10.0.0.1", "alice", "192.0.2.1");
    sessions.open("10.0.0.1", "bob", "192.0.2.1");
    sessions.open("10.0.0.2", "alice", "192.0.2.1");
    sessions.open("::1", null, "::1");
    assert.equal(sessions.count("10.0.0.1", "alice"), 2);
    assert.equal(sessions.count("10.0.0.1", "bob"), 1);
    assert.equal(sessions.count("10.0.0.2", "alice"), 1);
    assert.equal(sessions.count("10.0.0.2", "bob"), 0);
    assert.equal(sessions.count("::1", null), 1);
    assert.equal(sessions.count("10.0.0.3", null), 0);
    assert.equal(sessions.total, 5);
  });

  it("count() tells no login (null) from an empty username", () => {
    const sessions = new SessionTable();
    sessions.open("10.0.0.1", null, "192.0.2.1");
    assert.equal(sessions.count("10.0.0.1", null), 1);
    assert.equal(sessions.count("10.0.0.1", ""), 0);
    sessions.open("10.0.0.1", "", "192.0.2.2");
    sessions.open("10.0.0.1", "", "192.0.2.2");
    assert.equal(sessions.count("10.0.0.1", null), 1);
    assert.equal(sessions.count("10.0.0.1", ""), 2);
    assert.equal(sessions.outboundHost("10.0.0.1", null), "192.0.2.1");
    assert.equal(sessions.outboundHost("10.0.0.1", ""), "192.0.2.2");
    assert.equal(sessions.total, 3);
  });

  it("count() does not mix addresses and users that share text", () => {
    const sessions = new SessionTable();
    sessions.open("10.0.0.1", "u:x", "192.0.2.1");
    assert.equal(sessions.count("10.0.0.1", "x"), 0);
    assert.equal(sessions.count("10.0.0.1", "u:x"), 1);
    assert.equal(sessions.count("10.0.0.1\0u:", "x"), 0);
  });

  it("outboundHost() gives the newest open tunnel's, or null", () => {
    const sessions = new SessionTable();
    assert.equal(sessions.outboundHost("10.0.0.1", "alice"), null);
    const first = sessions.open("10.0.0.1", "alice", "192.0.2.1");
    assert.equal(sessions.outboundHost("10.0.0.1", "alice"), "192.0.2.1");
    const second = sessions.open("10.0.0.1", "alice", "2001:db8::1");
    assert.equal(sessions.outboundHost("10.0.0.1", "alice"), "2001:db8::1");
    assert.equal(sessions.outboundHost("10.0.0.1", "bob"), null);
    first();
    assert.equal(sessions.outboundHost("10.0.0.1", "alice"), "2001:db8::1");
    second();
    assert.equal(sessions.outboundHost("10.0.0.1", "alice"), null);
  });

  it("the release function counts down once however often it is called", () => {
    const sessions = new SessionTable();
    const first = sessions.open("10.0.0.1", "alice", "192.0.2.1");
    const second = sessions.open("10.0.0.1", "alice", "192.0.2.1");
    first();
    first();
    first();
    assert.equal(sessions.count("10.0.0.1", "alice"), 1);
    assert.equal(sessions.total, 1);
    second();
    second();
    assert.equal(sessions.count("10.0.0.1", "alice"), 0);
    assert.equal(sessions.total, 0);
    const third = sessions.open("10.0.0.1", "alice", "192.0.2.1");
    first();
    assert.equal(sessions.count("10.0.0.1", "alice"), 1);
    third();
    assert.equal(sessions.total, 0);
  });
});
