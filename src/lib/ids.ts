import { randomFillSync } from "node:crypto";
import { monotonicFactory } from "ulid";

const pool = Buffer.alloc(4096);
let offset = pool.length;

/**
 * A uniform fraction in [0, 1) from cryptographically random bytes, as ulid's own PRNG gives
 * (one byte / 256), but drawn from a 4 KiB pool: ulid's default asks the OS for each of the 16
 * random characters of every id, which took a sixth of a publish's CPU (docs/performance.md).
 */
function pooledRandom(): number {
  if (offset >= pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  return (pool[offset++] ?? 0) / 256;
}

const ulid = monotonicFactory(pooledRandom);

export type IdPrefix = "evt" | "ep" | "dlv" | "att" | "key" | "ten" | "aud" | "whs" | "job";

/** Prefixed, time-sortable ids: `evt_01JF3...` (ULID, Crockford base32, monotonic within a process). */
export function newId(prefix: IdPrefix): string {
  return `${prefix}_${ulid()}`;
}

/** The smallest id of that prefix at or after a time; for time filters on id-ordered tables. */
export function idAtTime(prefix: IdPrefix, at: Date): string {
  return `${prefix}_${monotonicFactory()(at.getTime()).slice(0, 10)}0000000000000000`;
}
