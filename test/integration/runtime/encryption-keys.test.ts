import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { NODE_FLAGS } from "../../../src/cli/node-flags.ts";
import { loadConfig, StartupError } from "../../../src/config.ts";
import { createLogger } from "../../../src/lib/logger.ts";
import { buildDeps, closeDeps } from "../../../src/runtime/deps.ts";
import { startTestApp, type TestApp, testEnv } from "../../helpers/app.ts";
import { createTestDatabase, type TestDatabase } from "../../helpers/db.ts";
import { createEndpoint } from "../../helpers/fixtures.ts";

// A process must not start with another key under a key id this database already knows: it would
// write endpoint secrets and OAuth keys that the correctly configured processes cannot read.

const keyA = randomBytes(32).toString("base64");
const keyB = randomBytes(32).toString("base64");

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

/** Builds (and closes) a process's dependencies with these settings; resolves to the error, if any. */
async function start(env: Record<string, string>): Promise<unknown> {
  const config = loadConfig(testEnv({ DATABASE_URL: db.url, ...env }));
  try {
    const deps = await buildDeps(config, db.url, { logger: createLogger("silent"), supervise: false });
    await closeDeps(deps);
    return null;
  } catch (err) {
    return err;
  }
}

const fingerprints = async (t: TestApp) =>
  t.deps.sql<{ key_id: string }[]>`select key_id from encryption_keys order by key_id`;

describe("encryption key fingerprints", () => {
  test("the first process registers its key id; the same key starts again, another key under that id does not", async () => {
    expect(await start({ ENCRYPTION_KEY: keyA, ENCRYPTION_KEY_ID: "k1" })).toBeNull();
    const err = await start({ ENCRYPTION_KEY: keyB, ENCRYPTION_KEY_ID: "k1" });
    expect(err).toBeInstanceOf(StartupError);
    expect((err as Error).message).toMatch(
      /^the encryption key configured with id "k1" .* does not match its fingerprint in this database/,
    );
    // The message names ids and settings, never key material.
    expect((err as Error).message).not.toContain(keyA);
    expect((err as Error).message).not.toContain(keyB);
    expect(await start({ ENCRYPTION_KEY: keyA, ENCRYPTION_KEY_ID: "k1" })).toBeNull();
    // A new key under a new id, with the old one listed: both are known from then on.
    expect(
      await start({ ENCRYPTION_KEY: keyB, ENCRYPTION_KEY_ID: "k2", ENCRYPTION_OLD_KEYS: `k1:${keyA}` }),
    ).toBeNull();
    const err2 = await start({ ENCRYPTION_KEY: keyA, ENCRYPTION_KEY_ID: "k2" });
    expect((err2 as Error).message).toContain('id "k2"');
    const t = await startTestApp({
      database: db,
      workers: false,
      env: { ENCRYPTION_KEY: keyB, ENCRYPTION_KEY_ID: "k2" },
    });
    try {
      expect((await fingerprints(t)).map((r) => r.key_id)).toEqual(["k1", "k2"]);
    } finally {
      await t.close();
    }
  });

  test("a database with secrets but no fingerprint yet (written before them): the key must decrypt them", async () => {
    const other = await createTestDatabase();
    try {
      const keyC = randomBytes(32).toString("base64");
      const t = await startTestApp({
        database: other,
        workers: false,
        env: { ENCRYPTION_KEY: keyC, ENCRYPTION_KEY_ID: "k9" },
      });
      try {
        await createEndpoint(t, { url: "http://127.0.0.1:9/hook" });
        await t.deps.sql`delete from encryption_keys`;
      } finally {
        await t.close();
      }
      const config = (key: string) =>
        loadConfig(testEnv({ DATABASE_URL: other.url, ENCRYPTION_KEY: key, ENCRYPTION_KEY_ID: "k9" }));
      const logger = createLogger("silent");
      const refused = await buildDeps(config(keyA), other.url, { logger, supervise: false }).then(
        async (d) => {
          await closeDeps(d);
          return null;
        },
        (err: unknown) => err,
      );
      expect((refused as Error).message).toContain('id "k9"');
      expect((refused as Error).message).toContain("does not match the secrets stored under it");
      const ok = await buildDeps(config(keyC), other.url, { logger, supervise: false });
      await closeDeps(ok);
    } finally {
      await other.drop();
    }
  });

  test("the real process exits 2 with the reason on stderr", async () => {
    const child = spawn(process.execPath, [...NODE_FLAGS, "src/cli/main.ts", "api"], {
      env: {
        PATH: process.env.PATH ?? "",
        DATABASE_URL: db.url,
        ENCRYPTION_KEY: randomBytes(32).toString("base64"),
        ENCRYPTION_KEY_ID: "k1",
        PORT: "0",
        LOG_LEVEL: "silent",
      },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr?.on("data", (b: Buffer) => {
      stderr += b.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    expect(code).toBe(2);
    expect(stderr).toContain('signalpost: the encryption key configured with id "k1"');
  });
});
