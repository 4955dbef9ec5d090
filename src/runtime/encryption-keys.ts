import type { Sql } from "../../db/client.ts";
import { StartupError } from "../config.ts";
import { type Keyring, keyFingerprint } from "../lib/crypto.ts";

/**
 * Refuses to run with an encryption key that is not the one this database knows under its id.
 * Every configured key (current and old) is checked against the fingerprint stored for its id in
 * `encryption_keys`. An id seen for the first time is registered, but only if the key decrypts a
 * stored ciphertext under that id (there is one when the database predates the fingerprints, or
 * secrets were written by processes that never registered): a process with a mistyped key would
 * otherwise write endpoint secrets and OAuth keys no correctly configured process can read, and
 * deliveries to those endpoints would fail until someone noticed. Throws a StartupError naming the
 * key id and what to do; never logs key material.
 */
export async function verifyEncryptionKeys(sql: Sql, keyring: Keyring): Promise<void> {
  for (const { id, key } of keyring.keys()) {
    const fingerprint = keyFingerprint(key);
    await sql.begin(async (tx) => {
      const [stored] = await tx<{ fingerprint: string }[]>`
        select fingerprint from encryption_keys where key_id = ${id} for update`;
      if (stored) {
        if (stored.fingerprint !== fingerprint) throw mismatch(id, "its fingerprint");
        return;
      }
      const samples = await tx<{ ciphertext: string }[]>`
        (select ciphertext from endpoint_secrets where key_id = ${id} limit 1)
        union all
        (select private_ciphertext from oauth_signing_keys where enc_key_id = ${id} limit 1)`;
      for (const { ciphertext } of samples) {
        try {
          keyring.decrypt(id, ciphertext);
        } catch {
          throw mismatch(id, "the secrets stored under it");
        }
      }
      await tx`
        insert into encryption_keys (key_id, fingerprint) values (${id}, ${fingerprint})
        on conflict (key_id) do nothing`;
    });
  }
}

function mismatch(id: string, what: string): StartupError {
  return new StartupError(
    `the encryption key configured with id "${id}" (ENCRYPTION_KEY / ENCRYPTION_KEY_ID, or ENCRYPTION_OLD_KEYS) ` +
      `does not match ${what} in this database: another key was used under this id. ` +
      `Configure the key this database was set up with; to move to a new key, give it a new ` +
      `ENCRYPTION_KEY_ID, list the old key in ENCRYPTION_OLD_KEYS and run rotate-encryption-key.`,
  );
}
