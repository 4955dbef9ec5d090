import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, expect, test } from "vitest";
import { auditLog, endpointSecrets, endpoints, oauthSigningKeys } from "../../../db/schema/index.ts";
import { reencryptAll } from "../../../src/cli/rotate-encryption-key.ts";
import { generateSecret } from "../../../src/delivery/sign.ts";
import { Keyring } from "../../../src/lib/crypto.ts";
import { newId } from "../../../src/lib/ids.ts";
import { currentSigningKey } from "../../../src/services/oauth/signing-keys.ts";
import { startTestApp, type TestApp } from "../../helpers/app.ts";
import { createTenant } from "../../helpers/security.ts";

const run = promisify(execFile);
const k1 = { id: "k1", key: randomBytes(32) };
const k2 = { id: "k2", key: randomBytes(32) };
const k0 = { id: "k0", key: randomBytes(32) }; // a key nobody configured any more

let t: TestApp;
const plain = new Map<string, string>();

beforeAll(async () => {
  t = await startTestApp({
    workers: false,
    env: { ENCRYPTION_KEY: k1.key.toString("base64"), ENCRYPTION_KEY_ID: "k1" },
  });
  const tenantId = await createTenant(t.deps.db);
  const endpointId = newId("ep");
  await t.deps.db.insert(endpoints).values({ id: endpointId, tenantId, url: "https://example.com/hook" });
  const old = new Keyring(k1);
  for (let i = 0; i < 7; i++) {
    const secret = generateSecret();
    const id = newId("whs");
    plain.set(id, secret);
    await t.deps.db.insert(endpointSecrets).values({ id, endpointId, ...old.encrypt(secret) });
  }
  await currentSigningKey(t.deps); // an OAuth signing key, encrypted under k1
  await t.deps.db
    .insert(endpointSecrets)
    .values({ id: newId("whs"), endpointId, ...new Keyring(k0).encrypt(generateSecret()) });
});
afterAll(async () => {
  await t?.close();
});

test("re-encrypts every row to the current key in batches, reports unknown keys, and is idempotent", async () => {
  const keyring = new Keyring(k2, [k1]);
  const first = await reencryptAll(t.deps.sql, keyring, { batchSize: 3 });
  expect(
    first.map((r) => ({ table: r.table, n: r.reencrypted, failed: r.failed.map((f) => f.keyId) })),
  ).toEqual([
    { table: "endpoint_secrets", n: 7, failed: ["k0"] },
    { table: "oauth_signing_keys", n: 1, failed: [] },
  ]);
  const onlyNew = new Keyring(k2);
  const rows = await t.deps.db.select().from(endpointSecrets);
  for (const r of rows) {
    if (r.keyId === "k0") continue;
    expect(r.keyId).toBe("k2");
    expect(onlyNew.decrypt(r.keyId, r.ciphertext)).toBe(plain.get(r.id));
  }
  const [sk] = await t.deps.db.select().from(oauthSigningKeys);
  expect(sk?.encKeyId).toBe("k2");
  expect(JSON.parse(onlyNew.decrypt("k2", sk?.privateCiphertext ?? ""))).toMatchObject({
    kty: "EC",
    crv: "P-256",
  });

  const second = await reencryptAll(t.deps.sql, keyring, { batchSize: 3 });
  expect(second.map((r) => r.reencrypted)).toEqual([0, 0]);
});

test("the CLI command does the same and exits 1 while some rows stay unreadable", async () => {
  const k3 = { id: "k3", key: randomBytes(32) };
  const env = {
    ...process.env,
    DATABASE_URL: t.db.url,
    ENCRYPTION_KEY: k3.key.toString("base64"),
    ENCRYPTION_KEY_ID: "k3",
    ENCRYPTION_OLD_KEYS: `k2:${k2.key.toString("base64")}`,
    LOG_LEVEL: "silent",
  };
  const args = ["src/cli/main.ts", "rotate-encryption-key", "--batch-size", "2"];
  const res = await run(process.execPath, args, { env }).then(
    (r) => ({ code: 0, ...r }),
    (e: { code: number; stdout: string; stderr: string }) => e,
  );
  expect(res.code).toBe(1);
  expect(res.stdout).toContain("endpoint_secrets: 7 re-encrypted to key k3");
  expect(res.stdout).toContain("oauth_signing_keys: 1 re-encrypted to key k3");
  expect(res.stderr).toContain("(key k0)");
  expect(`${res.stdout}${res.stderr}`).not.toContain("whsec_");
  const [row] = await t.deps.db.select().from(auditLog).where(eq(auditLog.action, "encryption_key.rotate"));
  expect(row).toMatchObject({ actorId: "system", targetId: "k3" });
  expect(row?.details).toEqual({
    endpoint_secrets: { reencrypted: 7, failed: 1 },
    oauth_signing_keys: { reencrypted: 1, failed: 0 },
  });
});
