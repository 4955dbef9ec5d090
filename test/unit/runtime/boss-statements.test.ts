import { expect, test } from "vitest";
import { namedStatement } from "../../../src/runtime/boss-statements.ts";

test("the fetch's per-row tiers parse becomes a once-per-execution subquery; the name is the original text's", () => {
  const text =
    "SELECT 1 WHERE c < COALESCE(($2::text::jsonb ->> group_tier)::int, $1::int) AND d < COALESCE(($2::text::jsonb ->> group_tier)::int, $1::int)";
  const named = namedStatement(text);
  expect(named?.text).toBe(
    "SELECT 1 WHERE c < COALESCE(((SELECT $2::text::jsonb) ->> group_tier)::int, $1::int) AND d < COALESCE(((SELECT $2::text::jsonb) ->> group_tier)::int, $1::int)",
  );
  expect(named?.name).toMatch(/^pgboss_[0-9a-f]{20}$/);
  expect(namedStatement(text)).toBe(named);
  expect(namedStatement(`${text} `)?.name).not.toBe(named?.name);
});

test("other statements are prepared as they are; a per-row JSON containment on a parameter stays unnamed", () => {
  const insert = "INSERT INTO q (data) VALUES ($1::text::jsonb)";
  expect(namedStatement(insert)?.text).toBe(insert);
  expect(namedStatement("SELECT id FROM job WHERE name = $1 AND data @> $2::text::jsonb")).toBeNull();
});
