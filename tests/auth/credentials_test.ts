import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  credentialsAuthenticator,
  DEFAULT_ITERATIONS,
  hashPassword,
  isPasswordHash,
  MAX_ITERATIONS,
  MIN_ITERATIONS,
  parsePasswordHash,
  PasswordHashError,
  pbkdf2Sha256,
  verifyPassword,
} from "../../src/auth/credentials.ts";

const client = { host: "127.0.0.1", port: 50000 };
const ENTRY =
  /^pbkdf2-sha256\$(\d+)\$([A-Za-z0-9+/]{22}==)\$([A-Za-z0-9+/]{43}=)$/;

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function base64(bytes: number[]): string {
  return btoa(String.fromCharCode(...bytes));
}

// RFC 7914 §11, the PBKDF2-HMAC-SHA256 vectors.
const RFC7914 = [
  {
    password: "passwd",
    salt: "salt",
    iterations: 1,
    key: "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc" +
      "49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783",
  },
  {
    password: "Password",
    salt: "NaCl",
    iterations: 80000,
    key: "4ddcd8f60b98be21830cee5ef22701f9641a4418d04c0414aeff08876b34ab56" +
      "a1d425a1225833549adb841b51c9b3176a272bdebba1d078478f62b397f33c8d",
  },
];

// The second RFC 7914 vector as an entry: its first 32 bytes, "NaCl" as salt.
const RFC7914_ENTRY = "pbkdf2-sha256$80000$TmFDbA==$" +
  "TdzY9guYviGDDO5e8icB+WQaRBjQTAQUrv8Ih2s0q1Y=";

const SALT = base64(Array(16).fill(7));
const HASH = base64(Array(32).fill(9));

describe("pbkdf2Sha256", () => {
  it("pbkdf2Sha256() derives the RFC 7914 §11 vectors", async () => {
    for (const vector of RFC7914) {
      const key = await pbkdf2Sha256(
        vector.password,
        new TextEncoder().encode(vector.salt),
        { iterations: vector.iterations, length: 64 },
      );
      assert.equal(hex(key), vector.key, vector.password);
    }
  });

  it("pbkdf2Sha256() of 32 bytes is the 64-byte key's prefix", async () => {
    const key = await pbkdf2Sha256("passwd", new TextEncoder().encode("salt"), {
      iterations: 1,
      length: 32,
    });
    assert.equal(hex(key), RFC7914[0]!.key.slice(0, 64));
  });
});

describe("hashPassword and verifyPassword", () => {
  it("verifyPassword() accepts the RFC 7914 vector written as an entry", async () => {
    assert.equal(await verifyPassword("Password", RFC7914_ENTRY), true);
    assert.equal(await verifyPassword("password", RFC7914_ENTRY), false);
  });

  it("hashPassword() writes scheme, iterations, a 16-byte salt and a 32-byte hash", async () => {
    const entry = await hashPassword("s3cret", { iterations: 1000 });
    const match = ENTRY.exec(entry);
    assert.notEqual(match, null, entry);
    assert.equal(match![1], "1000");
    const parsed = parsePasswordHash(entry);
    assert.equal(parsed.iterations, 1000);
    assert.equal(parsed.salt.length, 16);
    assert.equal(parsed.hash.length, 32);
    const expected = await pbkdf2Sha256("s3cret", parsed.salt, {
      iterations: 1000,
      length: 32,
    });
    assert.deepEqual(parsed.hash, expected);
  });

  it("hashPassword() salts every entry afresh", async () => {
    const a = parsePasswordHash(
      await hashPassword("s3cret", { iterations: 1000 }),
    );
    const b = parsePasswordHash(
      await hashPassword("s3cret", { iterations: 1000 }),
    );
    assert.notDeepEqual(a.salt, b.salt);
    assert.notDeepEqual(a.hash, b.hash);
  });

  it("verifyPassword() accepts the password and refuses every other", async () => {
    for (
      const password of ["s3cret", "", "pässwörd✓", "a:b$c", "x".repeat(255)]
    ) {
      const entry = await hashPassword(password, { iterations: 1000 });
      assert.equal(await verifyPassword(password, entry), true, password);
    }
    const entry = await hashPassword("s3cret", { iterations: 1000 });
    for (
      const wrong of ["", "s3cre", "s3cret ", "s3cret\n", "S3CRET", "\0s3cret"]
    ) {
      assert.equal(
        await verifyPassword(wrong, entry),
        false,
        JSON.stringify(wrong),
      );
    }
  });

  it("verifyPassword() shares HMAC's blind spot: trailing NULs in a short password", async () => {
    // HMAC pads keys up to 64 bytes with zeros (RFC 2104 §2), so PBKDF2 cannot
    // tell "s3cret" from "s3cret\0"; whoever sends the second knows the first.
    const entry = await hashPassword("s3cret", { iterations: 1000 });
    assert.equal(await verifyPassword("s3cret\0", entry), true);
    assert.equal(await verifyPassword("s3cret\0\0", entry), true);
    assert.equal(await verifyPassword("s3cret\0x", entry), false);
  });

  it("hashPassword() uses 600000 iterations by default", async () => {
    assert.equal(DEFAULT_ITERATIONS, 600_000);
    const entry = await hashPassword("s3cret");
    assert.equal(ENTRY.exec(entry)?.[1], "600000");
    assert.equal(await verifyPassword("s3cret", entry), true);
  });

  it("hashPassword() refuses iterations out of range", async () => {
    assert.equal(MIN_ITERATIONS, 1000);
    assert.equal(MAX_ITERATIONS, 10_000_000);
    for (const iterations of [0, 999, 10_000_001, 1000.5, NaN, Infinity]) {
      await assert.rejects(hashPassword("x", { iterations }), {
        name: "RangeError",
        message:
          `Cannot hash password: iterations must be an integer from 1000 to 10000000, got ${iterations}`,
      });
    }
    const top = await hashPassword("x", { iterations: MIN_ITERATIONS });
    assert.equal(ENTRY.exec(top)?.[1], "1000");
  });

  it("verifyPassword() refuses a tampered entry", async () => {
    const entry = await hashPassword("s3cret", { iterations: 1000 });
    const [scheme, iterations, salt, hash] = entry.split("$") as [
      string,
      string,
      string,
      string,
    ];
    const flip = (text: string, at: number) =>
      text.slice(0, at) + (text[at] === "A" ? "B" : "A") + text.slice(at + 1);
    const tampered = [
      [scheme, "1001", salt, hash],
      [scheme, iterations, flip(salt, 0), hash],
      [scheme, iterations, salt, flip(hash, 0)],
      [scheme, iterations, salt, flip(hash, 40)],
    ];
    for (const fields of tampered) {
      const changed = fields.join("$");
      assert.notEqual(changed, entry);
      assert.equal(await verifyPassword("s3cret", changed), false, changed);
    }
  });

  it("verifyPassword() rejects a malformed entry rather than answer false", async () => {
    await assert.rejects(verifyPassword("s3cret", "s3cret"), {
      name: "PasswordHashError",
      message: 'Invalid password hash: it does not start with "pbkdf2-sha256$"',
    });
  });
});

describe("parsePasswordHash", () => {
  const cases: [string, string][] = [
    ["s3cret", 'it does not start with "pbkdf2-sha256$"'],
    ["", 'it does not start with "pbkdf2-sha256$"'],
    [
      `PBKDF2-SHA256$1000$${SALT}$${HASH}`,
      'it does not start with "pbkdf2-sha256$"',
    ],
    [
      `pbkdf2-sha512$1000$${SALT}$${HASH}`,
      'it does not start with "pbkdf2-sha256$"',
    ],
    ["pbkdf2-sha256$", 'expected 4 fields separated by "$", got 2'],
    [`pbkdf2-sha256$1000$${SALT}`, 'expected 4 fields separated by "$", got 3'],
    [
      `pbkdf2-sha256$1000$${SALT}$${HASH}$`,
      'expected 4 fields separated by "$", got 5',
    ],
    ...[
      "999",
      "10000001",
      "0",
      "01000",
      "1e3",
      "",
      " 1000",
      "-1000",
      "1000.0",
      "0x3e8",
    ]
      .map((n): [string, string] => [
        `pbkdf2-sha256$${n}$${SALT}$${HASH}`,
        `iterations must be an integer from 1000 to 10000000, got "${n}"`,
      ]),
    [
      `pbkdf2-sha256$${"9".repeat(30)}$${SALT}$${HASH}`,
      `iterations must be an integer from 1000 to 10000000, got "${
        "9".repeat(20)
      }"`,
    ],
    // Unpadded, padding inside, whitespace, the URL-safe alphabet, nonzero
    // unused bits: all refused.
    ...["AAA", "AA==AA==", "AAAA AAA=", "-_8=", "AB==", "AAB=", "AAAAA"]
      .map((salt): [string, string] => [
        `pbkdf2-sha256$1000$${salt}$${HASH}`,
        "the salt is not standard base64",
      ]),
    [`pbkdf2-sha256$1000$$${HASH}`, "the salt is empty"],
    [
      `pbkdf2-sha256$1000$${SALT}$${HASH.slice(0, -1)}`,
      "the hash is not standard base64",
    ],
    [
      `pbkdf2-sha256$1000$${SALT}$${HASH.replace("C", "-")}`,
      "the hash is not standard base64",
    ],
    [`pbkdf2-sha256$1000$${SALT}$`, "the hash must be 32 bytes, got 0"],
    [
      `pbkdf2-sha256$1000$${SALT}$${base64(Array(31).fill(9))}`,
      "the hash must be 32 bytes, got 31",
    ],
    [
      `pbkdf2-sha256$1000$${SALT}$${base64(Array(33).fill(9))}`,
      "the hash must be 32 bytes, got 33",
    ],
    [
      `pbkdf2-sha256$1000$${SALT}$${base64(Array(64).fill(9))}`,
      "the hash must be 32 bytes, got 64",
    ],
  ];

  it("parsePasswordHash() names every problem", () => {
    for (const [entry, reason] of cases) {
      assert.throws(() => parsePasswordHash(entry), (error) => {
        assert.ok(error instanceof PasswordHashError, entry);
        assert.equal(error.reason, reason, entry);
        assert.equal(error.message, `Invalid password hash: ${reason}`);
        return true;
      });
      assert.equal(isPasswordHash(entry), false, entry);
    }
  });

  it("parsePasswordHash() reads a well-formed entry", () => {
    const parsed = parsePasswordHash(`pbkdf2-sha256$10000000$${SALT}$${HASH}`);
    assert.equal(parsed.iterations, 10_000_000);
    assert.deepEqual(parsed.salt, new Uint8Array(16).fill(7));
    assert.deepEqual(parsed.hash, new Uint8Array(32).fill(9));
    assert.equal(parsePasswordHash(RFC7914_ENTRY).iterations, 80000);
    assert.deepEqual(
      parsePasswordHash(RFC7914_ENTRY).salt,
      new TextEncoder().encode("NaCl"),
    );
    assert.equal(isPasswordHash(`pbkdf2-sha256$1000$${SALT}$${HASH}`), true);
  });

  it("parsePasswordHash() never quotes salt, hash or a password", () => {
    const secrets = ["hunter2hunter2", "c2VjcmV0c2FsdA", "aHVudGVyMmh1bnRlcjI"];
    const entries = [
      "hunter2hunter2",
      `pbkdf2-sha256$1000$c2VjcmV0c2FsdA$${HASH}`,
      `pbkdf2-sha256$1000$${SALT}$aHVudGVyMmh1bnRlcjI`,
    ];
    for (const entry of entries) {
      assert.throws(() => parsePasswordHash(entry), (error: Error) => {
        for (const secret of secrets) {
          assert.ok(!error.message.includes(secret));
        }
        return true;
      });
    }
  });
});

async function users() {
  return new Map([
    ["alice", await hashPassword("s3cret", { iterations: 1000 })],
    ["dave", await hashPassword("pässwörd✓", { iterations: 2000 })],
    ["bob", "hunter2"],
    ["carol", ""],
    // A plaintext password that merely looks like part of an entry.
    ["erin", "pbkdf2-sha256"],
  ]);
}

describe("credentialsAuthenticator", () => {
  it("credentialsAuthenticator() checks hashed and plaintext users", async () => {
    const authenticate = credentialsAuthenticator(await users());
    const accepted: [string, string][] = [
      ["alice", "s3cret"],
      ["dave", "pässwörd✓"],
      ["bob", "hunter2"],
      ["carol", ""],
      ["erin", "pbkdf2-sha256"],
    ];
    for (const [name, password] of accepted) {
      assert.equal(await authenticate(name, password, client), true, name);
    }
    const refused: [string, string][] = [
      ["alice", "S3cret"],
      ["alice", ""],
      ["alice", "hunter2"],
      ["dave", "passwörd✓"],
      ["bob", "hunter"],
      ["bob", "s3cret"],
      ["carol", "x"],
      ["erin", ""],
      ["mallory", "s3cret"],
      ["mallory", ""],
      ["Alice", "s3cret"],
      ["", ""],
    ];
    for (const [name, password] of refused) {
      assert.equal(
        await authenticate(name, password, client),
        false,
        `${name}:${password}`,
      );
    }
  });

  it("credentialsAuthenticator() makes an unknown user pay a derivation when anyone is hashed", async () => {
    let derivations = 0;
    const onDerive = () => derivations++;
    const authenticate = credentialsAuthenticator(await users(), { onDerive });
    assert.equal(await authenticate("mallory", "s3cret", client), false);
    assert.equal(derivations, 1);
    assert.equal(await authenticate("mallory", "s3cret", client), false);
    assert.equal(derivations, 2);
    assert.equal(await authenticate("alice", "wrong", client), false);
    assert.equal(derivations, 3);
    // Plaintext users are compared, not derived.
    assert.equal(await authenticate("bob", "hunter2", client), true);
    assert.equal(await authenticate("bob", "wrong", client), false);
    assert.equal(derivations, 3);

    let plainDerivations = 0;
    const plainOnly = credentialsAuthenticator(new Map([["bob", "hunter2"]]), {
      onDerive: () => plainDerivations++,
    });
    assert.equal(await plainOnly("mallory", "hunter2", client), false);
    assert.equal(await plainOnly("bob", "hunter2", client), true);
    assert.equal(plainDerivations, 0);
  });

  it("credentialsAuthenticator() answers a plaintext user, and anyone when nobody is hashed, at once", async () => {
    const authenticate = credentialsAuthenticator(await users());
    assert.equal(authenticate("bob", "hunter2", client), true);
    assert.equal(authenticate("bob", "wrong", client), false);
    // Hashed and unknown users need a derivation: a promise.
    const hashed = authenticate("alice", "s3cret", client);
    const unknown = authenticate("mallory", "s3cret", client);
    assert.ok(hashed instanceof Promise);
    assert.ok(unknown instanceof Promise);
    assert.equal(await hashed, true);
    assert.equal(await unknown, false);
    const plainOnly = credentialsAuthenticator(new Map([["bob", "hunter2"]]));
    assert.equal(plainOnly("mallory", "hunter2", client), false);
  });

  it("credentialsAuthenticator() refuses a malformed entry, naming the user", () => {
    assert.throws(
      () =>
        credentialsAuthenticator(
          new Map([["bob", "x"], [
            "alice",
            `pbkdf2-sha256$1000$${SALT}$${base64(Array(31).fill(1))}`,
          ]]),
        ),
      {
        name: "TypeError",
        message:
          'Invalid password hash of user "alice": the hash must be 32 bytes, got 31',
      },
    );
  });

  it("credentialsAuthenticator() refuses bad cache options", () => {
    for (const cacheSize of [-1, 1.5, NaN]) {
      assert.throws(() => credentialsAuthenticator(new Map(), { cacheSize }), {
        name: "TypeError",
        message:
          `Invalid option cacheSize: expected a whole number, got ${cacheSize}`,
      });
    }
    for (const cacheTtl of [-1, NaN, Infinity]) {
      assert.throws(() => credentialsAuthenticator(new Map(), { cacheTtl }), {
        name: "TypeError",
        message:
          `Invalid option cacheTtl: expected milliseconds, got ${cacheTtl}`,
      });
    }
  });

  it("credentialsAuthenticator() copies the table", async () => {
    const table = await users();
    const authenticate = credentialsAuthenticator(table);
    table.set("bob", "changed");
    table.set("eve", "x");
    assert.equal(await authenticate("bob", "hunter2", client), true);
    assert.equal(await authenticate("eve", "x", client), false);
  });
});

describe("credentialsAuthenticator cache", () => {
  function counted(options: { cacheSize?: number; now?: () => number } = {}) {
    const state = { derivations: 0 };
    return {
      state,
      options: { ...options, onDerive: () => state.derivations++ },
    };
  }

  it("credentialsAuthenticator() remembers a success and derives no more", async () => {
    const { state, options } = counted();
    const authenticate = credentialsAuthenticator(await users(), options);
    for (let i = 0; i < 5; i++) {
      assert.equal(await authenticate("alice", "s3cret", client), true);
    }
    assert.equal(state.derivations, 1);
    assert.equal(await authenticate("dave", "pässwörd✓", client), true);
    assert.equal(await authenticate("dave", "pässwörd✓", client), true);
    assert.equal(state.derivations, 2);
  });

  it("credentialsAuthenticator() never remembers a failure", async () => {
    const { state, options } = counted();
    const authenticate = credentialsAuthenticator(await users(), options);
    for (let i = 0; i < 3; i++) {
      assert.equal(await authenticate("alice", "wrong", client), false);
    }
    assert.equal(state.derivations, 3);
    assert.equal(await authenticate("alice", "s3cret", client), true);
    assert.equal(state.derivations, 4);
    // A remembered success does not vouch for another password.
    assert.equal(await authenticate("alice", "wrong", client), false);
    assert.equal(await authenticate("alice", "s3cret ", client), false);
    assert.equal(state.derivations, 6);
  });

  it("credentialsAuthenticator() remembers per user", async () => {
    const entry = await hashPassword("shared", { iterations: 1000 });
    const { state, options } = counted();
    const authenticate = credentialsAuthenticator(
      new Map([["alice", entry], ["alice2", entry]]),
      options,
    );
    assert.equal(await authenticate("alice", "shared", client), true);
    assert.equal(await authenticate("alice2", "shared", client), true);
    assert.equal(state.derivations, 2);
    assert.equal(await authenticate("alice", "shared", client), true);
    assert.equal(await authenticate("alice2", "shared", client), true);
    assert.equal(state.derivations, 2);
  });

  it("credentialsAuthenticator() forgets a success 10 minutes after its derivation", async () => {
    let time = 1_000_000;
    const { state, options } = counted({ now: () => time });
    const authenticate = credentialsAuthenticator(await users(), options);
    assert.equal(await authenticate("alice", "s3cret", client), true);
    assert.equal(state.derivations, 1);
    time += 300_000;
    assert.equal(await authenticate("alice", "s3cret", client), true);
    time += 299_999;
    assert.equal(await authenticate("alice", "s3cret", client), true);
    assert.equal(state.derivations, 1, "used within 10 minutes");
    time += 1;
    assert.equal(await authenticate("alice", "s3cret", client), true);
    assert.equal(state.derivations, 2, "use does not extend the 10 minutes");
    time += 599_999;
    assert.equal(await authenticate("alice", "s3cret", client), true);
    assert.equal(
      state.derivations,
      2,
      "the new derivation starts new 10 minutes",
    );
    time += 1;
    assert.equal(await authenticate("alice", "wrong", client), false);
    assert.equal(await authenticate("alice", "s3cret", client), true);
    assert.equal(state.derivations, 4);
  });

  it("credentialsAuthenticator() takes cacheTtl", async () => {
    let time = 0;
    const state = { derivations: 0 };
    const authenticate = credentialsAuthenticator(await users(), {
      cacheTtl: 1000,
      now: () => time,
      onDerive: () => state.derivations++,
    });
    assert.equal(await authenticate("alice", "s3cret", client), true);
    time = 999;
    assert.equal(await authenticate("alice", "s3cret", client), true);
    assert.equal(state.derivations, 1);
    time = 1000;
    assert.equal(await authenticate("alice", "s3cret", client), true);
    assert.equal(state.derivations, 2);
  });

  it("credentialsAuthenticator() keeps at most cacheSize, forgetting the least recently used", async () => {
    const names = ["u1", "u2", "u3"];
    const table = new Map<string, string>();
    for (const name of names) {
      table.set(name, await hashPassword(`pw-${name}`, { iterations: 1000 }));
    }
    const { state, options } = counted({ cacheSize: 2 });
    const authenticate = credentialsAuthenticator(table, options);
    const login = async (name: string) =>
      assert.equal(await authenticate(name, `pw-${name}`, client), true);
    await login("u1");
    await login("u2");
    assert.equal(state.derivations, 2);
    await login("u1"); // remembered, and now the most recently used
    assert.equal(state.derivations, 2);
    await login("u3"); // forgets u2, the least recently used
    assert.equal(state.derivations, 3);
    await login("u1");
    await login("u3");
    assert.equal(state.derivations, 3);
    await login("u2");
    assert.equal(state.derivations, 4);
    await login("u1"); // u1 was least recently used when u2 came back
    assert.equal(state.derivations, 5);
  });

  it("credentialsAuthenticator() with cacheSize 0 derives every time", async () => {
    const { state, options } = counted({ cacheSize: 0 });
    const authenticate = credentialsAuthenticator(await users(), options);
    for (let i = 0; i < 3; i++) {
      assert.equal(await authenticate("alice", "s3cret", client), true);
    }
    assert.equal(state.derivations, 3);
  });
});
