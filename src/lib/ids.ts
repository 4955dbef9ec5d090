import { monotonicFactory } from "ulid";

const ulid = monotonicFactory();

export type IdPrefix = "evt" | "ep" | "dlv" | "att" | "key" | "ten" | "aud" | "whs" | "job";

/** Prefixed, time-sortable ids: `evt_01JF3...` (ULID, Crockford base32, monotonic within a process). */
export function newId(prefix: IdPrefix): string {
  return `${prefix}_${ulid()}`;
}

/** The smallest id of that prefix at or after a time; for time filters on id-ordered tables. */
export function idAtTime(prefix: IdPrefix, at: Date): string {
  return `${prefix}_${monotonicFactory()(at.getTime()).slice(0, 10)}0000000000000000`;
}
