import { and, asc, desc, eq, gt, isNull, lte, or } from "drizzle-orm";
import type { DbOrTx } from "../../../db/client.ts";
import { type EndpointSecret, endpointSecrets } from "../../../db/schema/index.ts";
import { generateSecret } from "../../delivery/sign.ts";
import type { Deps } from "../../deps.ts";
import { newId } from "../../lib/ids.ts";

/** Rotated-out secrets that may still sign at once; the oldest beyond this are dropped. */
export const MAX_OLD_SECRETS = 10;

/** Stores a new current secret (encrypted) for an endpoint and returns its plaintext. */
export async function storeSecret(
  deps: Deps,
  tx: DbOrTx,
  endpointId: string,
  supplied?: string,
): Promise<{ secret: string; row: EndpointSecret }> {
  const secret = supplied ?? generateSecret();
  const enc = deps.keyring.encrypt(secret);
  const [row] = await tx
    .insert(endpointSecrets)
    .values({ id: newId("whs"), endpointId, keyId: enc.keyId, ciphertext: enc.ciphertext })
    .returning();
  if (!row) throw new Error("inserting the endpoint secret returned no row");
  return { secret, row };
}

/** The endpoint's current secret (expiresAt null) and the rotated-out ones still in their grace period. */
export async function secretRows(
  tx: DbOrTx,
  endpointId: string,
  now: Date,
): Promise<{ current: EndpointSecret | null; previous: EndpointSecret[] }> {
  const rows = await tx
    .select()
    .from(endpointSecrets)
    .where(
      and(
        eq(endpointSecrets.endpointId, endpointId),
        or(isNull(endpointSecrets.expiresAt), gt(endpointSecrets.expiresAt, now)),
      ),
    )
    .orderBy(desc(endpointSecrets.createdAt), desc(endpointSecrets.id));
  return {
    current: rows.find((r) => r.expiresAt === null) ?? null,
    previous: rows.filter((r) => r.expiresAt !== null),
  };
}

/** Deletes expired secrets and all but the newest MAX_OLD_SECRETS still in grace. */
export async function pruneOldSecrets(tx: DbOrTx, endpointId: string, now: Date): Promise<number> {
  const expired = await tx
    .delete(endpointSecrets)
    .where(and(eq(endpointSecrets.endpointId, endpointId), lte(endpointSecrets.expiresAt, now)))
    .returning({ id: endpointSecrets.id });
  const inGrace = await tx
    .select({ id: endpointSecrets.id })
    .from(endpointSecrets)
    .where(and(eq(endpointSecrets.endpointId, endpointId), gt(endpointSecrets.expiresAt, now)))
    .orderBy(asc(endpointSecrets.createdAt), asc(endpointSecrets.id));
  const excess = inGrace.slice(0, Math.max(0, inGrace.length - MAX_OLD_SECRETS));
  for (const r of excess) await tx.delete(endpointSecrets).where(eq(endpointSecrets.id, r.id));
  return expired.length + excess.length;
}
