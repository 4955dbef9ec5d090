import type { Sql } from "../../db/client.ts";
import type { Logger } from "../lib/logger.ts";

/**
 * Channel of the invalidation triggers (migration 0005): `key:<id>` when an API key row changes,
 * `tenant:<id>` when a tenant's row does, `event_types` when any event type does. Sent at commit,
 * so every process hears of a change as soon as it is visible.
 */
export const CACHE_CHANNEL = "signalpost_cache";

/** Most entries kept per map; the oldest go first beyond it. */
const MAX_ENTRIES = 10_000;

type Entry<V> = { value: V; at: number; tags: readonly string[] };

/**
 * A per-process cache of rows every request reads and hardly anything writes: API keys by lookup
 * prefix or id, and event types by name. An entry lives until a trigger's NOTIFY names it (or its
 * key or tenant), or at most `ttlMs` (the bound on staleness if a notification is ever missed).
 * The whole cache is dropped whenever the LISTEN connection (re)connects, since notifications sent
 * while it was down are lost. The process that makes a change also forgets it itself, at commit,
 * so its next request never sees the old row. `ttlMs` 0 turns caching off.
 */
export class ReferenceCache<V> {
  readonly #entries = new Map<string, Entry<V>>();
  #ttlMs: number;
  readonly #now: () => number;
  readonly #maxEntries: number;

  constructor(ttlMs: number, now: () => number = Date.now, maxEntries = MAX_ENTRIES) {
    this.#ttlMs = ttlMs;
    this.#now = now;
    this.#maxEntries = maxEntries;
  }

  get(key: string): V | undefined {
    const e = this.#entries.get(key);
    if (!e) return undefined;
    if (this.#now() - e.at >= this.#ttlMs) {
      this.#entries.delete(key);
      return undefined;
    }
    return e.value;
  }

  /** `tags`: the names (`key:<id>`, `tenant:<id>`) whose change makes this entry stale. */
  set(key: string, value: V, tags: readonly string[] = []): void {
    if (this.#ttlMs <= 0) return;
    this.#entries.delete(key);
    this.#entries.set(key, { value, at: this.#now(), tags });
    if (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
  }

  delete(key: string): void {
    this.#entries.delete(key);
  }

  /** Forgets every entry tagged `tag`. */
  forget(tag: string): void {
    for (const [k, e] of this.#entries) if (e.tags.includes(tag)) this.#entries.delete(k);
  }

  clear(): void {
    this.#entries.clear();
  }

  /** Stops caching (nothing would tell this process of changes). */
  disable(): void {
    this.#ttlMs = 0;
    this.#entries.clear();
  }

  /** False when caching is off (`ttlMs` 0, or disabled): `set` keeps nothing. */
  get enabled(): boolean {
    return this.#ttlMs > 0;
  }

  get size(): number {
    return this.#entries.size;
  }
}

/** The caches a process keeps (see ReferenceCache). */
export type Caches = {
  /** API key rows with their tenant's deletion time, by `prefix:<p>` and `id:<id>`. */
  keys: ReferenceCache<unknown>;
  /** Event types by name (null: no such type). */
  eventTypes: ReferenceCache<unknown>;
  /**
   * Each tenant's fan-out candidates with the endpoints version they were read at, by tenant id
   * (src/delivery/fanout.ts). Needs no invalidation: every use is checked against the version in
   * the using transaction. Fewer entries than the others: an entry holds up to FANOUT_INLINE_MAX endpoints.
   */
  candidates: ReferenceCache<unknown>;
  /** Applies one invalidation: what a trigger's NOTIFY carries, also called by the changing process. */
  invalidate: (payload: string) => void;
};

export function createCaches(ttlMs: number): Caches {
  const keys = new ReferenceCache<unknown>(ttlMs);
  const eventTypes = new ReferenceCache<unknown>(ttlMs);
  const candidates = new ReferenceCache<unknown>(ttlMs, Date.now, 2_000);
  return {
    keys,
    eventTypes,
    candidates,
    invalidate: (payload) => {
      if (payload === "event_types") eventTypes.clear();
      else if (payload.startsWith("key:") || payload.startsWith("tenant:")) keys.forget(payload);
      else {
        keys.clear();
        eventTypes.clear();
        candidates.clear();
      }
    },
  };
}

/**
 * LISTENs for invalidations. Every (re)connect of the listener clears both caches; while it is
 * down (postgres.js reconnects it), entries still expire after the TTL. Returns the unlisten function.
 */
export async function listenForInvalidations(
  sql: Sql,
  caches: Caches,
  logger: Logger,
): Promise<() => Promise<void>> {
  const clear = () => {
    caches.keys.clear();
    caches.eventTypes.clear();
  };
  try {
    const { unlisten } = await sql.listen(CACHE_CHANNEL, (payload) => caches.invalidate(payload), clear);
    return async () => {
      await unlisten().catch(() => {});
    };
  } catch (err) {
    // Without invalidations a cached row could outlive a revocation by the whole TTL: read through.
    logger.warn({ err }, "LISTEN for cache invalidation failed; API keys and event types are not cached");
    caches.keys.disable();
    caches.eventTypes.disable();
    return async () => {};
  }
}
