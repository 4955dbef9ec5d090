import { and, desc, eq, gt, isNull, or, sql } from "drizzle-orm";
import { exportJWK, generateKeyPair, importJWK, type JWK } from "jose";
import { ulid } from "ulid";
import type { DbOrTx } from "../../../db/client.ts";
import { type OAuthSigningKey, oauthSigningKeys } from "../../../db/schema/index.ts";
import type { Deps } from "../../deps.ts";

/** The only algorithm access tokens are signed and verified with (ECDSA P-256). */
export const SIGNING_ALG = "ES256";

/**
 * How long a process trusts what it read about signing keys. Bounds how late another process
 * notices a rotation (it keeps signing with the old key that long, which `RETIRE_SKEW_MS` covers).
 */
const CACHE_MS = 10_000;
/** Extra life of a retired key beyond the longest token it can have signed. */
export const RETIRE_SKEW_MS = 60_000;

type CryptoKeyLike = Awaited<ReturnType<typeof importJWK>>;
type Signer = { kid: string; key: CryptoKeyLike; loadedAt: number };
type Verifier = { key: CryptoKeyLike; expiresAt: Date | null; revokedAt: Date | null; loadedAt: number };
type Cache = { signer: Signer | null; verifiers: Map<string, Verifier> };

// Per Deps (not module-global), so every test app and process has its own view.
const caches = new WeakMap<Deps, Cache>();
function cacheOf(deps: Deps): Cache {
  let c = caches.get(deps);
  if (!c) {
    c = { signer: null, verifiers: new Map() };
    caches.set(deps, c);
  }
  return c;
}

/** Forgets cached keys (after a rotation in this process). */
export function clearSigningKeyCache(deps: Deps): void {
  caches.delete(deps);
}

/** Generates a key pair and inserts it as the current signing key (no-op if one exists). */
export async function insertSigningKey(deps: Deps, db: DbOrTx): Promise<OAuthSigningKey | null> {
  const { publicKey, privateKey } = await generateKeyPair(SIGNING_ALG, { extractable: true });
  const kid = `sk_${ulid()}`;
  const publicJwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: SIGNING_ALG, use: "sig" };
  const enc = deps.keyring.encrypt(JSON.stringify(await exportJWK(privateKey)));
  const [row] = await db
    .insert(oauthSigningKeys)
    .values({
      kid,
      alg: SIGNING_ALG,
      publicJwk: publicJwk as Record<string, unknown>,
      encKeyId: enc.keyId,
      privateCiphertext: enc.ciphertext,
    })
    // Another process may have created the first key at the same moment; theirs wins.
    .onConflictDoNothing()
    .returning();
  return row ?? null;
}

async function currentRow(db: DbOrTx): Promise<OAuthSigningKey | undefined> {
  const [row] = await db
    .select()
    .from(oauthSigningKeys)
    .where(and(isNull(oauthSigningKeys.retiredAt), eq(oauthSigningKeys.alg, SIGNING_ALG)))
    .limit(1);
  return row;
}

/** The key that signs new tokens; created on first use, shared by every process through Postgres. */
export async function currentSigningKey(deps: Deps): Promise<{ kid: string; key: CryptoKeyLike }> {
  const cache = cacheOf(deps);
  if (cache.signer && Date.now() - cache.signer.loadedAt < CACHE_MS) return cache.signer;
  let row = await currentRow(deps.db);
  if (!row) {
    await insertSigningKey(deps, deps.db);
    row = await currentRow(deps.db);
    if (!row) throw new Error("no OAuth signing key could be created");
  }
  const jwk = JSON.parse(deps.keyring.decrypt(row.encKeyId, row.privateCiphertext)) as JWK;
  cache.signer = { kid: row.kid, key: await importJWK(jwk, SIGNING_ALG), loadedAt: Date.now() };
  return cache.signer;
}

/**
 * The public key for a token's `kid`, or null when the kid is unknown, revoked or past its
 * `expiresAt`. Unknown kids are not cached, so a key created by another process is found at once.
 */
export async function verificationKey(deps: Deps, kid: string): Promise<CryptoKeyLike | null> {
  const cache = cacheOf(deps);
  let v = cache.verifiers.get(kid);
  if (!v || Date.now() - v.loadedAt >= CACHE_MS) {
    const [row] = await deps.db.select().from(oauthSigningKeys).where(eq(oauthSigningKeys.kid, kid)).limit(1);
    if (!row || row.alg !== SIGNING_ALG) {
      cache.verifiers.delete(kid);
      return null;
    }
    v = {
      key: await importJWK(row.publicJwk as JWK, SIGNING_ALG),
      expiresAt: row.expiresAt,
      revokedAt: row.revokedAt,
      loadedAt: Date.now(),
    };
    cache.verifiers.set(kid, v);
  }
  const now = deps.now();
  if (v.revokedAt && v.revokedAt <= now) return null;
  if (v.expiresAt && v.expiresAt <= now) return null;
  return v.key;
}

/** Public JWKs of every key that may still have valid tokens out there, newest first. */
export async function publishedKeys(deps: Deps): Promise<Record<string, unknown>[]> {
  await currentSigningKey(deps); // the set is never empty, so clients can cache it from the start
  const now = deps.now();
  const rows = await deps.db
    .select({ jwk: oauthSigningKeys.publicJwk })
    .from(oauthSigningKeys)
    .where(
      and(
        isNull(oauthSigningKeys.revokedAt),
        or(isNull(oauthSigningKeys.expiresAt), gt(oauthSigningKeys.expiresAt, now)),
      ),
    )
    .orderBy(desc(oauthSigningKeys.createdAt));
  return rows.map((r) => r.jwk);
}

/** Serialises rotations across processes for the rest of the transaction. */
export async function lockSigningKeys(db: DbOrTx): Promise<void> {
  await db.execute(sql`select pg_advisory_xact_lock(7283910002)`);
}
