import { defineConfig } from "drizzle-kit";

// Used only by `npm run db:generate` (drizzle-kit generate). Migrations are applied by code
// (`signalpost migrate`, and at start), never with `drizzle-kit push`.
export default defineConfig({
  dialect: "postgresql",
  schema: "./db/schema/index.ts",
  out: "./db/migrations",
});
