import { type ChildProcess, spawn } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { NODE_FLAGS, PROCESS_ENV } from "../src/cli/node-flags.ts";
import { freePort } from "../test/helpers/ports.ts";

export const REPO = fileURLToPath(new URL("../", import.meta.url));

export type Child = { child: ChildProcess; port: number; exited: Promise<void>; stop: () => Promise<void> };

/** Starts `node src/cli/main.ts <role>` and waits until /readyz answers 200. */
export async function startSignalpost(role: "api" | "worker", env: Record<string, string>): Promise<Child> {
  const port = await freePort();
  const child = spawn(process.execPath, [...NODE_FLAGS, "src/cli/main.ts", role], {
    cwd: REPO,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "/tmp",
      ...PROCESS_ENV,
      ...env,
      PORT: String(port),
    },
    stdio: ["ignore", "ignore", process.env.BENCH_VERBOSE ? "inherit" : "ignore"],
  });
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  const until = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${role} exited with ${child.exitCode}`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/readyz`);
      await res.arrayBuffer();
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > until) throw new Error(`${role} not ready in 60 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    child,
    port,
    exited,
    stop: async () => {
      child.kill("SIGTERM");
      const t = setTimeout(() => child.kill("SIGKILL"), 15_000);
      await exited;
      clearTimeout(t);
    },
  };
}

/** Starts the verifying receiver (bench/receiver.ts) in its own process. */
export async function startReceiverProcess(secret: string): Promise<{
  url: string;
  pid: number;
  stats: (reset?: boolean) => Promise<ReceiverStats>;
  /** First receipt time (ms since epoch) of each event id since the last reset. */
  receipts: () => Promise<Record<string, number>>;
  stop: () => Promise<void>;
}> {
  const child = spawn(process.execPath, ["bench/receiver.ts", secret], {
    cwd: REPO,
    stdio: ["ignore", "pipe", "inherit"],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout?.once("data", (b: Buffer) =>
      resolve((JSON.parse(b.toString().split("\n")[0] ?? "{}") as { port: number }).port),
    );
    child.once("exit", () => reject(new Error("receiver exited")));
  });
  const base = `http://127.0.0.1:${port}`;
  return {
    url: `${base}/hook`,
    pid: child.pid ?? 0,
    stats: async (reset = false) =>
      (await (await fetch(`${base}/${reset ? "__reset" : "__stats"}`)).json()) as ReceiverStats,
    receipts: async () => (await (await fetch(`${base}/__receipts`)).json()) as Record<string, number>,
    stop: async () => {
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
    },
  };
}

export type ReceiverStats = {
  received: number;
  verified: number;
  rejected: number;
  duplicates: number;
  lastAt: number;
  latencies: { n: number; p50: number; p95: number; p99: number; max: number } | null;
  slowest: { at: number; ms: number }[];
};

/** Resident set size now and at its peak (VmRSS, VmHWM), in MB. */
export async function rssOf(pid: number): Promise<{ rssMb: number; peakMb: number }> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return { rssMb: kb("VmRSS") / 1024, peakMb: kb("VmHWM") / 1024 };
}

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/**
 * CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat; with
 * `reapedChildren`, also what its exited children used (cutime + cstime: counted once the parent
 * has waited for them).
 */
export async function cpuSecondsOf(pid: number, opts: { reapedChildren?: boolean } = {}): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
  // Fields after the parenthesised command name; utime, stime, cutime, cstime are the 14th–17th overall.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const own = Number(fields[11] ?? 0) + Number(fields[12] ?? 0);
  const children = opts.reapedChildren ? Number(fields[13] ?? 0) + Number(fields[14] ?? 0) : 0;
  return (own + children) / TICKS_PER_SECOND;
}

/**
 * CPU seconds used so far by every process named `postgres` (the server and its backends), with
 * the backends that have exited meanwhile: the postmaster reaps them, so their time shows in its
 * cutime/cstime (without it, a pool connection closing mid-phase made the sum go down).
 */
export async function postgresCpuSeconds(): Promise<number> {
  return sumOverPostgres((pid) => cpuSecondsOf(pid, { reapedChildren: true }));
}

/** `read` summed over every live process named `postgres`. */
async function sumOverPostgres(read: (pid: number) => Promise<number>): Promise<number> {
  let total = 0;
  for (const name of await readdir("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const comm = await readFile(`/proc/${name}/comm`, "utf8").catch(() => "");
    if (comm.trim() === "postgres") total += await read(Number(name));
  }
  return total;
}

/**
 * Write-type system calls (write, writev, send…) a process has made so far (`syscw` in
 * /proc/<pid>/io): on this kind of machine each costs tens of microseconds (the loopback TCP stack
 * runs in it), so their count per event says how many round trips it took.
 */
export async function writeSyscallsOf(pid: number): Promise<number> {
  const io = await readFile(`/proc/${pid}/io`, "utf8").catch(() => "");
  return Number(/^syscw:\s*(\d+)/m.exec(io)?.[1] ?? 0);
}

/** Write system calls of every live `postgres` process (backends that exited are not counted). */
export async function postgresWriteSyscalls(): Promise<number> {
  return sumOverPostgres(writeSyscallsOf);
}

/** n, p50/p95/p99 and max of a list of milliseconds (null when empty): the receiver's and the bench's. */
export function percentiles(xs: readonly number[]) {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const p = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? 0;
  return { n: s.length, p50: p(0.5), p95: p(0.95), p99: p(0.99), max: s.at(-1) ?? 0 };
}
