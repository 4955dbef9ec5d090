import { randomBytes } from "node:crypto";
import postgres from "postgres";
import { inject } from "vitest";
import { runMigrations } from "../../db/migrate.ts";

/** A superuser connection to the test server's maintenance database. */
export function adminUrl(): string {
  return process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
}

export function urlFor(database: string): string {
  const u = new URL(adminUrl());
  u.pathname = `/${database}`;
  return u.toString();
}

/** Creates the migrated template database; every test database is a cheap copy of it. */
export async function prepareTemplate(name: string): Promise<void> {
  const admin = postgres(adminUrl(), { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`create database ${name}`);
  } finally {
    await admin.end();
  }
  await runMigrations(urlFor(name));
}

export async function dropDatabase(name: string): Promise<void> {
  const admin = postgres(adminUrl(), { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`drop database if exists ${name} with (force)`);
  } finally {
    await admin.end();
  }
}

export type TestDatabase = { name: string; url: string; drop: () => Promise<void> };

/** A fresh database for one test file (copied from the template), dropped by `drop()`. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `sp_test_${Date.now().toString(36)}_${randomBytes(4).toString("hex")}`;
  const admin = postgres(adminUrl(), { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`create database ${name} template ${inject("templateDb")}`);
  } finally {
    await admin.end();
  }
  return {
    name,
    url: urlFor(name),
    drop: async () => {
      if (process.env.SP_KEEP_TEST_DB) return;
      await dropDatabase(name);
    },
  };
}
