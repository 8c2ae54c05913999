import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { usersAuthenticator } from "../src/auth.ts";

const client = { host: "127.0.0.1", port: 50000 };

describe("usersAuthenticator", () => {
  const authenticate = usersAuthenticator(
    new Map([["alice", "s3cret"], ["bob", ""], ["zoë", "pässwörd✓"]]),
  );

  it("usersAuthenticator() accepts the right password", () => {
    assert.equal(authenticate("alice", "s3cret", client), true);
    assert.equal(authenticate("zoë", "pässwörd✓", client), true);
  });

  it("usersAuthenticator() refuses a wrong password", () => {
    for (const password of ["", "s3cre", "s3cret ", "s3cret\0", "S3CRET"]) {
      assert.equal(authenticate("alice", password, client), false, password);
    }
    assert.equal(authenticate("zoë", "passwor", client), false);
  });

  it("usersAuthenticator() refuses an unknown user whatever the password", () => {
    for (const password of ["", "s3cret", "\0".repeat(32), "x".repeat(255)]) {
      assert.equal(authenticate("carol", password, client), false, password);
    }
    assert.equal(authenticate("Alice", "s3cret", client), false);
    assert.equal(authenticate("", "", client), false);
  });

  it("usersAuthenticator() accepts an empty password only where it is set", () => {
    assert.equal(authenticate("bob", "", client), true);
    assert.equal(authenticate("bob", "x", client), false);
    assert.equal(authenticate("alice", "", client), false);
  });

  it("usersAuthenticator() copies the table", () => {
    const users = new Map([["alice", "s3cret"]]);
    const check = usersAuthenticator(users);
    users.set("alice", "changed");
    users.set("eve", "x");
    assert.equal(check("alice", "s3cret", client), true);
    assert.equal(check("eve", "x", client), false);
  });
});
