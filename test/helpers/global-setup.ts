import { adminUrl, prepareTemplate } from "./db.ts";

/** Builds the template database (migrations + pg-boss schema) once per `vitest run`. */
export async function setup(): Promise<void> {
  try {
    await prepareTemplate();
  } catch (err) {
    throw new Error(
      `tests need PostgreSQL at ${adminUrl()} (set TEST_DATABASE_URL): ${(err as Error).message}`,
    );
  }
}
