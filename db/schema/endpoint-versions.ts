import { bigint, pgTable, text } from "drizzle-orm/pg-core";

/**
 * A number that changes whenever one of a tenant's endpoints changes in a way fan-out cares about
 * (created, deleted, disabled, re-enabled, filters or concurrency limit changed, moved, or its
 * tenant deleted or restored): written only by the triggers of migration 0009, whatever code or SQL
 * made the change. A publish checks the
 * endpoints it cached for the tenant against it in its own transaction (src/delivery/fanout.ts).
 * Values come from one sequence, so a number is never reused, not even after a TRUNCATE.
 */
export const endpointVersions = pgTable("endpoint_versions", {
  tenantId: text("tenant_id").primaryKey(),
  version: bigint("version", { mode: "number" }).notNull(),
});
