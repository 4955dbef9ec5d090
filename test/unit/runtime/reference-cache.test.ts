import { expect, test } from "vitest";
import { createCaches, ReferenceCache } from "../../../src/runtime/reference-cache.ts";

test("entries expire after the TTL, are forgotten by tag, and the oldest go beyond the cap", () => {
  let now = 0;
  const c = new ReferenceCache<number>(1_000, () => now);
  c.set("prefix:a", 1, ["key:k1", "tenant:t1"]);
  c.set("id:k1", 1, ["key:k1", "tenant:t1"]);
  c.set("prefix:b", 2, ["key:k2", "tenant:t1"]);
  c.set("prefix:c", 3, ["key:k3", "tenant:t2"]);
  expect(c.get("prefix:a")).toBe(1);
  c.forget("key:k1");
  expect([c.get("prefix:a"), c.get("id:k1"), c.get("prefix:b")]).toEqual([undefined, undefined, 2]);
  c.forget("tenant:t1");
  expect([c.get("prefix:b"), c.get("prefix:c")]).toEqual([undefined, 3]);
  now = 999;
  expect(c.get("prefix:c")).toBe(3);
  now = 1_000;
  expect(c.get("prefix:c")).toBeUndefined();
  for (let i = 0; i < 10_005; i++) c.set(`k${i}`, i);
  expect(c.size).toBe(10_000);
  expect(c.get("k0")).toBeUndefined();
  expect(c.get("k10004")).toBe(10_004);
  c.disable();
  c.set("x", 1);
  expect([c.size, c.get("x")]).toEqual([0, undefined]);
});

test("invalidation payloads: a key, a tenant, the event types, anything else clears all", () => {
  const caches = createCaches(10_000);
  caches.keys.set("prefix:a", {}, ["key:k1", "tenant:t1"]);
  caches.keys.set("prefix:b", {}, ["key:k2", "tenant:t2"]);
  caches.eventTypes.set("grade.changed", {});
  caches.invalidate("tenant:t1");
  expect([caches.keys.size, caches.eventTypes.size]).toEqual([1, 1]);
  caches.invalidate("event_types");
  expect([caches.keys.size, caches.eventTypes.size]).toEqual([1, 0]);
  caches.invalidate("something new");
  expect(caches.keys.size).toBe(0);
});
