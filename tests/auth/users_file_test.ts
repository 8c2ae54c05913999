import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { verifyPassword } from "../../src/auth/credentials.ts";
import { parseUsersFile, UsersFileError } from "../../src/auth/users_file.ts";

const SALT = "BwcHBwcHBwcHBwcHBwcHBw==";
const HASH = "CQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQk=";
const ENTRY = `pbkdf2-sha256$1000$${SALT}$${HASH}`;
// RFC 7914 §11's second PBKDF2-HMAC-SHA256 vector, truncated to 32 bytes.
const RFC7914_ENTRY = "pbkdf2-sha256$80000$TmFDbA==$" +
  "TdzY9guYviGDDO5e8icB+WQaRBjQTAQUrv8Ih2s0q1Y=";

function fails(text: string, line: number | undefined, problem: string) {
  assert.throws(() => parseUsersFile(text, "users.txt"), (error) => {
    assert.ok(error instanceof UsersFileError, String(error));
    assert.equal(
      error.message,
      line === undefined
        ? `users.txt: ${problem}`
        : `users.txt: line ${line}: ${problem}`,
    );
    assert.equal(error.file, "users.txt");
    assert.equal(error.line, line);
    return true;
  });
}

describe("parseUsersFile", () => {
  it("parseUsersFile() reads names, secrets, comments and blank lines", () => {
    const text = [
      "# team accounts",
      "",
      "alice:" + ENTRY,
      "   ",
      "  # indented comment",
      "bob:plain:text:with:colons",
      "carol:",
      "dave: spaced out ",
      "erin:#not a comment",
      "frank:" + RFC7914_ENTRY,
      "",
    ].join("\n");
    const { users, plaintext } = parseUsersFile(text, "users.txt");
    assert.deepEqual([...users], [
      ["alice", ENTRY],
      ["bob", "plain:text:with:colons"],
      ["carol", ""],
      ["dave", " spaced out "],
      ["erin", "#not a comment"],
      ["frank", RFC7914_ENTRY],
    ]);
    assert.deepEqual(plaintext, ["bob", "carol", "dave", "erin"]);
  });

  it("parseUsersFile() keeps an entry usable by verifyPassword", async () => {
    const { users } = parseUsersFile(`frank:${RFC7914_ENTRY}\n`, "u");
    assert.equal(await verifyPassword("Password", users.get("frank")!), true);
  });

  it("parseUsersFile() tolerates CRLF, a missing final newline and a BOM", () => {
    const { users, plaintext } = parseUsersFile(
      "\uFEFF# comment\r\nalice:a\r\n\r\nbob:b:\r\r\ncarol:" + ENTRY,
      "users.txt",
    );
    assert.deepEqual([...users], [
      ["alice", "a"],
      // Only one CR is a line end; the other is part of the password.
      ["bob", "b:\r"],
      ["carol", ENTRY],
    ]);
    assert.deepEqual(plaintext, ["alice", "bob"]);
  });

  it("parseUsersFile() takes other schemes and cases as plaintext", () => {
    const text = [
      `a:PBKDF2-SHA256$1000$${SALT}$${HASH}`,
      `b:pbkdf2-sha512$1000$${SALT}$${HASH}`,
      "c:pbkdf2-sha256",
      "d: pbkdf2-sha256$1",
    ].join("\n");
    const { plaintext } = parseUsersFile(text, "users.txt");
    assert.deepEqual(plaintext, ["a", "b", "c", "d"]);
  });

  it("parseUsersFile() reports a line with no colon, never quoting it", () => {
    fails("alice:a\nhunter2\n", 2, "expected NAME:SECRET, found no colon");
    assert.throws(
      () => parseUsersFile("hunter2", "users.txt"),
      (error: Error) => !error.message.includes("hunter2"),
    );
    fails(
      "# c\r\n\r\nalice:a\r\nbob\r\n",
      4,
      "expected NAME:SECRET, found no colon",
    );
  });

  it("parseUsersFile() reports an empty name", () => {
    fails("alice:a\n:secret\n", 2, "the name is empty");
    fails(":", 1, "the name is empty");
  });

  it("parseUsersFile() reports a user listed twice with both lines", () => {
    fails(
      "alice:a\nbob:b\n\nalice:c\n",
      4,
      'user "alice" is listed twice (first on line 1)',
    );
    fails(
      `# x\nalice:${ENTRY}\nalice:${ENTRY}`,
      3,
      'user "alice" is listed twice (first on line 2)',
    );
  });

  it("parseUsersFile() reports a malformed entry instead of taking it as plaintext", () => {
    const cases: [string, string][] = [
      [
        `pbkdf2-sha256$1000$${SALT}`,
        'expected 4 fields separated by "$", got 3',
      ],
      [
        `pbkdf2-sha256$999$${SALT}$${HASH}`,
        'iterations must be an integer from 1000 to 10000000, got "999"',
      ],
      [
        `pbkdf2-sha256$1000$${SALT.slice(1)}$${HASH}`,
        "the salt is not standard base64",
      ],
      [`pbkdf2-sha256$1000$$${HASH}`, "the salt is empty"],
      [
        `pbkdf2-sha256$1000$${SALT}$${HASH} `,
        "the hash is not standard base64",
      ],
      [
        `pbkdf2-sha256$1000$${SALT}$${SALT}`,
        "the hash must be 32 bytes, got 16",
      ],
      ["pbkdf2-sha256$", 'expected 4 fields separated by "$", got 2'],
    ];
    for (const [secret, reason] of cases) {
      fails(
        `bob:b\n\nalice:${secret}\n`,
        3,
        `the password hash of "alice" is invalid: ${reason}`,
      );
    }
  });

  it("parseUsersFile() reports names and plaintext passwords RFC 1929 cannot carry", () => {
    parseUsersFile(`${"n".repeat(255)}:${"p".repeat(255)}`, "users.txt");
    // 128 two-byte characters: 256 bytes.
    fails(
      `${"é".repeat(128)}:x`,
      1,
      "the name is longer than 255 bytes (RFC 1929)",
    );
    fails(
      `a:a\nbob:${"p".repeat(256)}`,
      2,
      'the password of "bob" is longer than 255 bytes (RFC 1929)',
    );
  });

  it("parseUsersFile() reports a file with no users", () => {
    fails("", undefined, "no users");
    fails("\n\r\n  \n", undefined, "no users");
    fails("# alice:a\n  # bob:b\n", undefined, "no users");
  });
});
