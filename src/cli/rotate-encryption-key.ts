import { parseArgs } from "node:util";
import { createDb, type Sql } from "../../db/client.ts";
import { runMigrations } from "../../db/migrate.ts";
import { auditLog } from "../../db/schema/index.ts";
import { loadConfig } from "../config.ts";
import { Keyring } from "../lib/crypto.ts";
import { newId } from "../lib/ids.ts";
import { createLogger } from "../lib/logger.ts";
import { openDatabase } from "../runtime/database.ts";

/**
 * Every column pair that holds ciphertext under the operator keyring. A new encrypted column
 * belongs here, so `rotate-encryption-key` moves it to the current key too.
 */
export const ENCRYPTED_COLUMNS = [
  { table: "endpoint_secrets", id: "id", keyId: "key_id", ciphertext: "ciphertext" },
  { table: "oauth_signing_keys", id: "kid", keyId: "enc_key_id", ciphertext: "private_ciphertext" },
] as const;

export type ReencryptResult = {
  table: string;
  reencrypted: number;
  /** Rows whose key id is not configured (or whose ciphertext does not decrypt): left untouched. */
  failed: { id: string; keyId: string; reason: string }[];
};

/**
 * Re-encrypts, in batches of `batchSize` rows (one transaction each), every row not under the
 * current key. Idempotent: rows already under the current key are never read, and each update is
 * conditional on the key id it read, so a row changed meanwhile (e.g. a secret rotated) is skipped.
 */
export async function reencryptAll(
  sql: Sql,
  keyring: Keyring,
  opts: { batchSize?: number } = {},
): Promise<ReencryptResult[]> {
  const batchSize = opts.batchSize ?? 500;
  const current = keyring.current.id;
  const results: ReencryptResult[] = [];
  for (const col of ENCRYPTED_COLUMNS) {
    const result: ReencryptResult = { table: col.table, reencrypted: 0, failed: [] };
    let after = "";
    for (;;) {
      const done = await sql.begin(async (tx) => {
        const rows = await tx<{ id: string; key_id: string; ciphertext: string }[]>`
          select ${tx(col.id)} as id, ${tx(col.keyId)} as key_id, ${tx(col.ciphertext)} as ciphertext
          from ${tx(col.table)}
          where ${tx(col.keyId)} <> ${current} and ${tx(col.id)} > ${after}
          order by ${tx(col.id)}
          limit ${batchSize}
          for update`;
        for (const row of rows) {
          let plain: string;
          try {
            plain = keyring.decrypt(row.key_id, row.ciphertext);
          } catch (err) {
            result.failed.push({ id: row.id, keyId: row.key_id, reason: (err as Error).message });
            continue;
          }
          const enc = keyring.encrypt(plain);
          const updated = await tx`
            update ${tx(col.table)}
            set ${tx(col.keyId)} = ${enc.keyId}, ${tx(col.ciphertext)} = ${enc.ciphertext}
            where ${tx(col.id)} = ${row.id} and ${tx(col.keyId)} = ${row.key_id}`;
          result.reencrypted += updated.count;
        }
        after = rows.at(-1)?.id ?? after;
        return rows.length < batchSize;
      });
      if (done) break;
    }
    results.push(result);
  }
  return results;
}

/**
 * `signalpost rotate-encryption-key [--batch-size N]`: after setting ENCRYPTION_KEY/ENCRYPTION_KEY_ID
 * to a new key and listing the previous one(s) in ENCRYPTION_OLD_KEYS, moves every encrypted row to
 * the new key. Exit code 1 when some rows could not be decrypted (their key is missing).
 */
export async function runRotateEncryptionKey(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { "batch-size": { type: "string", default: "500" } } });
  const batchSize = Number(values["batch-size"]);
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000) {
    console.error("rotate-encryption-key: --batch-size must be an integer from 1 to 10000");
    return 2;
  }
  const config = loadConfig();
  const logger = createLogger(config.LOG_LEVEL, { command: "rotate-encryption-key" });
  const handle = await openDatabase(config, logger);
  try {
    await runMigrations(handle.url);
    const current = config.encryptionKeys.current;
    if (!current) throw new Error("no encryption key configured");
    const keyring = new Keyring(current, config.encryptionKeys.old);
    const { sql, db } = createDb(handle.url, { max: 2 });
    try {
      const results = await reencryptAll(sql, keyring, { batchSize });
      await db.insert(auditLog).values({
        id: newId("aud"),
        actorId: "system",
        actorRole: "system",
        tenantId: null,
        action: "encryption_key.rotate",
        targetType: "encryption_key",
        targetId: current.id,
        details: Object.fromEntries(
          results.map((r) => [r.table, { reencrypted: r.reencrypted, failed: r.failed.length }]),
        ),
      });
      let failed = 0;
      for (const r of results) {
        process.stdout.write(`${r.table}: ${r.reencrypted} re-encrypted to key ${current.id}\n`);
        for (const f of r.failed) {
          failed++;
          process.stderr.write(`${r.table} ${f.id}: not re-encrypted (key ${f.keyId}): ${f.reason}\n`);
        }
      }
      return failed ? 1 : 0;
    } finally {
      await sql.end();
    }
  } finally {
    await handle.stop();
  }
}
