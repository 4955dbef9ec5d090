import type { Deps } from "../../deps.ts";
import { ingestSnapshots } from "../detect.ts";
import type { Snapshot } from "../snapshot.ts";
import { takeUpstreamCall } from "./budget.ts";
import { MalformedResponse, parseEnvelope, toSnapshots, type UpstreamResource } from "./parse.ts";

export const UPSTREAM_RESOURCES: readonly UpstreamResource[] = [
  "trading-signals",
  "tm-grade",
  "fundamental-grade",
];

export type PollOptions = {
  baseUrl: string;
  apiKey: string;
  /** Source name stored with the snapshots (and in events). */
  source: string;
  /** Symbols asked for (`symbol=` and filtered locally); empty = everything. */
  symbols: readonly string[];
  maxCallsPerHour: number;
  resources: readonly UpstreamResource[];
  /** Rows per page; the provider allows at most 100. */
  pageSize: number;
  /** Safety valve against an upstream that never returns a short page. */
  maxPages: number;
  /** Per-request timeout, ms. */
  timeoutMs: number;
  /** Tries per page, counting the first (429, 5xx and network errors are retried). */
  maxAttempts: number;
  /** First 5xx back-off, ms; doubles each time, ±20 % jitter. */
  backoffBaseMs: number;
  /** A Retry-After longer than this abandons the resource until the next poll, ms. */
  maxRetryAfterMs: number;
};

export type ResourceReport = {
  status: "ok" | "malformed" | "failed" | "budget_exhausted";
  pages: number;
  rows: number;
  reason?: string;
};

export type PollReport = {
  resources: Partial<Record<UpstreamResource, ResourceReport>>;
  snapshots: number;
  batchId: string | null;
};

/** Poll options from config, with overrides (tests shorten the waits). */
export function pollOptionsFromConfig(deps: Deps, overrides: Partial<PollOptions> = {}): PollOptions | null {
  const c = deps.config;
  if (!c.UPSTREAM_BASE_URL || !c.UPSTREAM_API_KEY) return null;
  return {
    baseUrl: c.UPSTREAM_BASE_URL,
    apiKey: c.UPSTREAM_API_KEY,
    source: c.UPSTREAM_SOURCE,
    symbols: c.UPSTREAM_SYMBOLS.map((s) => s.toUpperCase()),
    maxCallsPerHour: c.UPSTREAM_MAX_CALLS_PER_HOUR,
    resources: UPSTREAM_RESOURCES,
    pageSize: 100,
    maxPages: 200,
    timeoutMs: 10_000,
    maxAttempts: 4,
    backoffBaseMs: 1_000,
    maxRetryAfterMs: 120_000,
    ...overrides,
  };
}

/**
 * One poll: reads every page of every resource, then feeds all rows into the detector in one
 * transaction (inbox + detect job). A resource whose pages cannot all be read and validated
 * contributes nothing (logged with the reason); the others still count.
 */
export async function pollUpstream(deps: Deps, opts: PollOptions): Promise<PollReport> {
  const polledAt = deps.now();
  const report: PollReport = { resources: {}, snapshots: 0, batchId: null };
  const snapshots: Snapshot[] = [];
  for (const resource of opts.resources) {
    const r = await readResource(deps, opts, resource, polledAt);
    report.resources[resource] = r.report;
    if (r.report.status !== "ok") {
      deps.logger.warn({ resource, ...r.report }, "upstream resource skipped; it changes nothing");
      if (r.report.status === "budget_exhausted") break;
      continue;
    }
    snapshots.push(...r.snapshots);
  }
  const wanted = new Set(opts.symbols);
  const kept = dedupe(wanted.size ? snapshots.filter((s) => wanted.has(s.symbol)) : snapshots);
  if (kept.length) {
    report.batchId = await deps.db.transaction((tx) => ingestSnapshots(deps, tx, kept));
    report.snapshots = kept.length;
  }
  deps.logger.info({ snapshots: report.snapshots, resources: report.resources }, "upstream poll done");
  return report;
}

/** One row per (symbol, kind) per poll: the provider can list a symbol twice (two tokens share it). */
function dedupe(snapshots: Snapshot[]): Snapshot[] {
  const seen = new Set<string>();
  return snapshots.filter((s) => {
    const k = `${s.kind}|${s.symbol}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

async function readResource(
  deps: Deps,
  opts: PollOptions,
  resource: UpstreamResource,
  polledAt: Date,
): Promise<{ report: ResourceReport; snapshots: Snapshot[] }> {
  const report: ResourceReport = { status: "ok", pages: 0, rows: 0 };
  const snapshots: Snapshot[] = [];
  for (let page = 1; page <= opts.maxPages; page++) {
    const res = await fetchPage(deps, opts, resource, page);
    if (res.kind !== "ok")
      return { report: { ...report, status: res.kind, reason: res.reason }, snapshots: [] };
    try {
      const rows = parseEnvelope(res.text);
      snapshots.push(...toSnapshots(resource, rows, opts.source, polledAt));
      report.pages = page;
      report.rows += rows.length;
      if (rows.length < opts.pageSize) return { report, snapshots };
    } catch (err) {
      if (!(err instanceof MalformedResponse)) throw err;
      return {
        report: { ...report, status: "malformed", reason: `page ${page}: ${err.message}` },
        snapshots: [],
      };
    }
  }
  return {
    report: { ...report, status: "failed", reason: `no short page within ${opts.maxPages} pages` },
    snapshots: [],
  };
}

type PageResult =
  | { kind: "ok"; text: string }
  | { kind: "failed" | "budget_exhausted" | "malformed"; reason: string };

/** GET one page: budget first, then 429 → Retry-After, 5xx/network → exponential back-off. */
async function fetchPage(
  deps: Deps,
  opts: PollOptions,
  resource: UpstreamResource,
  page: number,
): Promise<PageResult> {
  const url = new URL(`${opts.baseUrl.replace(/\/+$/, "")}/${resource}`);
  url.searchParams.set("limit", String(opts.pageSize));
  url.searchParams.set("page", String(page));
  if (opts.symbols.length) url.searchParams.set("symbol", opts.symbols.join(","));
  let lastReason = "";
  for (let attempt = 1; attempt <= opts.maxAttempts; attempt++) {
    if (!(await takeUpstreamCall(deps, `/${resource}`, opts.maxCallsPerHour)))
      return {
        kind: "budget_exhausted",
        reason: `UPSTREAM_MAX_CALLS_PER_HOUR (${opts.maxCallsPerHour}) reached`,
      };
    let res: Response;
    try {
      res = await fetch(url, {
        headers: { "x-api-key": opts.apiKey, accept: "application/json" },
        signal: AbortSignal.timeout(opts.timeoutMs),
        redirect: "error",
      });
    } catch (err) {
      lastReason = `request failed: ${(err as Error).message}`;
      await backoff(opts, attempt);
      continue;
    }
    const text = await res.text().catch(() => "");
    if (res.ok) return { kind: "ok", text };
    if (res.status === 429) {
      const wait = retryAfterMs(res.headers.get("retry-after"), deps.now()) ?? opts.backoffBaseMs;
      lastReason = `429, Retry-After ${res.headers.get("retry-after") ?? "(none)"}`;
      if (wait > opts.maxRetryAfterMs)
        return {
          kind: "failed",
          reason: `${lastReason} exceeds ${opts.maxRetryAfterMs} ms; left for the next poll`,
        };
      deps.logger.info({ resource, page, waitMs: wait }, "upstream rate limited; honouring Retry-After");
      await sleep(wait);
      continue;
    }
    if (res.status >= 500) {
      lastReason = `HTTP ${res.status}`;
      await backoff(opts, attempt);
      continue;
    }
    // 4xx other than 429 will not get better by retrying (bad key, bad parameters).
    return { kind: "failed", reason: `HTTP ${res.status}: ${text.slice(0, 200)}` };
  }
  return { kind: "failed", reason: `gave up after ${opts.maxAttempts} attempts (${lastReason})` };
}

async function backoff(opts: PollOptions, attempt: number): Promise<void> {
  if (attempt >= opts.maxAttempts) return;
  const base = opts.backoffBaseMs * 2 ** (attempt - 1);
  await sleep(base * (0.8 + Math.random() * 0.4));
}

/** `Retry-After` as ms: delta-seconds or an HTTP date; null when absent or unreadable. */
export function retryAfterMs(header: string | null, now: Date): number | null {
  if (!header) return null;
  const trimmed = header.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? null : Math.max(0, at - now.getTime());
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
