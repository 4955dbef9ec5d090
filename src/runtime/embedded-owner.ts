import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { readFile, readlink, realpath, rm, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { promisify } from "node:util";
import { StartupError } from "../config.ts";
import type { Logger } from "../lib/logger.ts";

/**
 * Who owns an embedded PostgreSQL's data directory: the DATA_DIR lock a running Signalpost holds,
 * the postmaster a killed one left behind, and a guard so PostgreSQL does not outlive its server.
 * Used by startEmbeddedPostgres (embedded.ts).
 */

/** How long a left-over postmaster gets for a fast shutdown (SIGINT) before we give up on it. */
const ORPHAN_STOP_TIMEOUT_MS = 30_000;

/**
 * Takes `<dataDir>/signalpost.pid` (our PID and, on Linux, our start time, so a recycled PID is
 * not taken for us). A file naming a live process means another Signalpost runs on this DATA_DIR:
 * refused. A file whose process is gone was left by a killed one: taken over.
 */
export async function lockDataDir(dir: string, pgDir: string): Promise<{ release: () => Promise<void> }> {
  const path = join(dir, "signalpost.pid");
  const mine = `${process.pid}\n${(await processInfo(process.pid))?.startTime ?? ""}\n`;
  for (let attempt = 0; ; attempt++) {
    try {
      await writeFile(path, mine, { flag: "wx", mode: 0o644 });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST" || attempt >= 3) throw err;
    }
    const [pidLine = "", startTime = ""] = (await readFile(path, "utf8").catch(() => "")).split("\n");
    const holder = Number.parseInt(pidLine, 10);
    if (holder > 0 && holder !== process.pid) {
      const info = await processInfo(holder);
      if (info && (!startTime || !info.startTime || info.startTime === startTime)) {
        const postmaster = await inspectPostmaster(pgDir);
        const running = postmaster?.ours ? `is already running (PID ${postmaster.pid})` : "is in use";
        throw new StartupError(
          `the embedded PostgreSQL for DATA_DIR (${dir}) ${running}: another Signalpost (PID ${holder}) ` +
            `is using this DATA_DIR. Stop that one first (kill -TERM ${holder}), or give this one its own ` +
            "DATA_DIR and EMBEDDED_PG_PORT.",
        );
      }
    }
    await rm(path, { force: true }); // left by a Signalpost that is gone
  }
  const removeIfMine = () => {
    try {
      if (readFileSync(path, "utf8") === mine) rmSync(path);
    } catch {
      // already gone
    }
  };
  process.on("exit", removeIfMine);
  return {
    release: async () => {
      process.off("exit", removeIfMine);
      removeIfMine();
    },
  };
}

/**
 * With the DATA_DIR lock held, a live postmaster on our data directory was left by a Signalpost
 * that is gone: stop it (SIGINT, PostgreSQL's fast shutdown) and wait. Refused, naming the PID,
 * when its parent is still a live Node process (a Signalpost that predates the lock, say) or when
 * we may not signal it.
 */
export async function stopOrphanPostmaster(dir: string, pgDir: string, logger: Logger): Promise<void> {
  const postmaster = await inspectPostmaster(pgDir);
  if (!postmaster?.ours) return; // none, or a stale file: PostgreSQL judges that itself
  const { pid, parent } = postmaster;
  if (parent?.isNode || !sendSignal(pid, "SIGINT")) throw alreadyRunning(dir, pid);
  const until = Date.now() + ORPHAN_STOP_TIMEOUT_MS;
  while (isAlive(pid)) {
    if (Date.now() > until) {
      throw new StartupError(
        `the embedded PostgreSQL for DATA_DIR (${dir}) left running by a previous Signalpost (PID ${pid}) ` +
          `did not stop within ${ORPHAN_STOP_TIMEOUT_MS / 1000} s of SIGINT; stop it with: kill -QUIT ${pid}`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  logger.warn(
    { pid, parentPid: postmaster.ppid, dataDir: dir },
    `stopped the embedded PostgreSQL (PID ${pid}) that a previous Signalpost left running on this DATA_DIR ` +
      "(it was killed without a clean shutdown); starting a fresh one",
  );
}

export function alreadyRunning(dir: string, pid: number): StartupError {
  return new StartupError(
    `the embedded PostgreSQL for DATA_DIR (${dir}) is already running (PID ${pid}): another Signalpost ` +
      `is using this DATA_DIR, or a previous one was killed; stop it with: kill -INT ${pid}`,
  );
}

/**
 * A shell that waits for EOF on a pipe from this process and then sends the postmaster SIGINT:
 * the kernel closes the pipe however we die (SIGKILL, OOM killer, a crash), so PostgreSQL does
 * not outlive us. A graceful stop kills the shell first.
 */
export function guardPostmaster(pid: number | null, logger: Logger): ChildProcess | null {
  if (!pid) return null;
  const guard = spawn(
    "/bin/sh",
    ["-c", 'read _; kill -INT "$1" 2>/dev/null', "postmaster-guard", String(pid)],
    {
      stdio: ["pipe", "ignore", "ignore"],
    },
  );
  guard.on("error", (err) => logger.debug({ err }, "embedded postgres guard did not start"));
  guard.unref();
  (guard.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  return guard;
}

type Postmaster = {
  pid: number;
  /** The process serves our data directory (not a recycled PID). */
  ours: boolean;
  ppid: number;
  /** Its parent, when that is neither init nor gone. */
  parent: { isNode: boolean } | null;
};

/** The live process `<pgDir>/postmaster.pid` names, or null (no file, or its process is gone). */
export async function inspectPostmaster(pgDir: string): Promise<Postmaster | null> {
  const pid = await readPostmasterPid(pgDir);
  const info = pid ? await processInfo(pid) : null;
  if (!pid || !info) return null;
  const real = await realpath(pgDir).catch(() => pgDir);
  const ours = info.cwd ? info.cwd === real : info.args.includes(pgDir); // postgres chdirs to its data dir
  const parentInfo = info.ppid > 1 ? await processInfo(info.ppid) : null;
  const parent = parentInfo ? { isNode: /^node(\.exe)?$/.test(basename(parentInfo.args[0] ?? "")) } : null;
  return { pid, ours, ppid: info.ppid, parent };
}

export async function readPostmasterPid(pgDir: string): Promise<number | null> {
  const text = await readFile(join(pgDir, "postmaster.pid"), "utf8").catch(() => "");
  const pid = Number.parseInt(text.split("\n", 1)[0] ?? "", 10);
  return pid > 0 ? pid : null;
}

type ProcessInfo = { ppid: number; startTime: string | null; cwd: string | null; args: string[] };

/** What the OS says about a live process (procfs on Linux, `ps` elsewhere), or null if it is gone. */
async function processInfo(pid: number): Promise<ProcessInfo | null> {
  if (existsSync("/proc/self/stat")) {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => null);
    if (stat === null) return null;
    // Fields after "(comm)": state, ppid, …, starttime is the 20th (field 22 of proc(5)).
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
    return {
      ppid: Number(fields[1]),
      startTime: fields[19] ?? null,
      cwd: await readlink(`/proc/${pid}/cwd`).catch(() => null),
      args: cmdline.split("\0").filter(Boolean),
    };
  }
  const out = await promisify(execFile)("ps", ["-o", "ppid=", "-o", "args=", "-p", String(pid)]).catch(
    () => null,
  );
  if (!out) return isAlive(pid) ? { ppid: 0, startTime: null, cwd: null, args: [] } : null;
  const [ppid = "0", ...args] = out.stdout.trim().split(/\s+/);
  return { ppid: Number(ppid), startTime: null, cwd: null, args };
}

/** Only ESRCH proves a process gone; EPERM means it lives under another user. */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

function sendSignal(pid: number, sig: NodeJS.Signals): boolean {
  try {
    process.kill(pid, sig);
    return true;
  } catch {
    return false;
  }
}
