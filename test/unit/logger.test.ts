import { Writable } from "node:stream";
import postgres from "postgres";
import { expect, test } from "vitest";
import { createLogger } from "../../src/lib/logger.ts";
import { adminUrl } from "../helpers/db.ts";

test("a database error's bound parameters never reach a log line", async () => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  const logger = createLogger("info", {}, sink);
  const sql = postgres(adminUrl(), { max: 1, onnotice: () => {} });
  const secret = "whsec_do-not-log-me-0123456789";
  try {
    await sql`select ${secret}::int`;
  } catch (err) {
    logger.error({ err }, "query failed");
  } finally {
    await sql.end();
  }
  expect(lines.length).toBe(1);
  expect(lines[0]).toContain("query failed");
  expect(lines[0]).toContain("invalid input syntax");
  expect(lines[0]).not.toContain(secret);
});
