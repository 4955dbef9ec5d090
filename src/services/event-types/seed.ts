import { sql } from "drizzle-orm";
import type { PostgresJsDatabase } from "drizzle-orm/postgres-js";
import { eventTypes } from "../../../db/schema/index.ts";
import { EVENT_CATALOG } from "./catalog.ts";

/**
 * Upserts the built-in catalog. Idempotent; description, schema and example follow the code,
 * while `deprecated_at` (an operator decision) and `created_at` are left as they are.
 */
export async function seedEventTypes(db: PostgresJsDatabase): Promise<void> {
  await db
    .insert(eventTypes)
    .values(EVENT_CATALOG.map((e) => ({ ...e })))
    .onConflictDoUpdate({
      target: eventTypes.name,
      set: {
        description: sql`excluded.description`,
        schema: sql`excluded.schema`,
        example: sql`excluded.example`,
      },
    });
}
