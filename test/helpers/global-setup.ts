import { randomBytes } from "node:crypto";
import type { TestProject } from "vitest/node";
import { adminUrl, dropDatabase, prepareTemplate } from "./db.ts";

declare module "vitest" {
  export interface ProvidedContext {
    templateDb: string;
  }
}

/**
 * Builds a template database (migrations + pg-boss schema) once per `vitest run`, under a name of
 * its own so concurrent runs never collide; every test file copies it. Dropped at the end.
 */
export async function setup(project: TestProject): Promise<() => Promise<void>> {
  const name = `sp_template_${process.pid}_${randomBytes(3).toString("hex")}`;
  try {
    await prepareTemplate(name);
  } catch (err) {
    throw new Error(
      `tests need PostgreSQL at ${adminUrl()} (set TEST_DATABASE_URL): ${(err as Error).message}`,
    );
  }
  project.provide("templateDb", name);
  return () => dropDatabase(name);
}
