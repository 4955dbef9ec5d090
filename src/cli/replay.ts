import { parseArgs } from "node:util";
import { runMigrations } from "../../db/migrate.ts";
import { type Config, ConfigError, loadConfig } from "../config.ts";
import type { DetectStats } from "../detector/detect.ts";
import { DEFAULT_MODEL, type ModelOptions } from "../detector/model.ts";
import { feedSnapshots, ReplayInputError, type ReplayProgress, readReplayInput } from "../detector/replay.ts";
import { SourceSchema, TIMEFRAMES, type Timeframe } from "../detector/snapshot.ts";
import { createLogger } from "../lib/logger.ts";
import { openDatabase } from "../runtime/database.ts";
import { buildDeps, closeDeps } from "../runtime/deps.ts";

export const REPLAY_USAGE = `signalpost replay FILE [options]

Feeds a history into the change detector, in time order, through the same path as PUT /v1/signals.
FILE is JSON lines of snapshots ({"symbol","kind","observedAt",…} per line) or a price CSV
(symbol,date,close — or date,open,high,low,close,… with --symbol) run through the reference model
(EMA trend signal + RSI momentum grade; see docs/detector.md).

  --source NAME     source stored with the snapshots and carried in events (default: replay)
  --symbol SYM      symbol of a CSV without a symbol column
  --model ema-rsi   the reference model (the only one)
  --fast N --slow N EMA periods (default 12 / 26)
  --band X          neutral band as a fraction of the slow EMA (default 0.0025)
  --rsi N           RSI period (default 14)
  --timeframe TF    timeframe of the signal: 1d or 1h (default 1d)
  --batch N         snapshots per transaction (default 500)
  --dry-run         read and model the file, print the counts, touch no database`;

export type ReplayArgs = {
  file: string;
  source: string;
  symbol?: string;
  model: ModelOptions;
  batchSize: number;
  dryRun: boolean;
};

/** Parses replay arguments; throws with a message for the user. */
export function parseReplayArgs(args: string[]): ReplayArgs {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      source: { type: "string", default: "replay" },
      symbol: { type: "string" },
      model: { type: "string", default: "ema-rsi" },
      fast: { type: "string" },
      slow: { type: "string" },
      band: { type: "string" },
      rsi: { type: "string" },
      timeframe: { type: "string", default: "1d" },
      batch: { type: "string", default: "500" },
      "dry-run": { type: "boolean", default: false },
    },
  });
  const file = positionals[0];
  if (!file || positionals.length > 1) throw new Error("expected exactly one FILE");
  if (values.model !== "ema-rsi") throw new Error(`unknown --model "${values.model}" (known: ema-rsi)`);
  const source = SourceSchema.safeParse(values.source);
  if (!source.success) throw new Error(`--source: ${source.error.issues[0]?.message}`);
  if (!TIMEFRAMES.includes(values.timeframe as Timeframe)) throw new Error("--timeframe must be 1d or 1h");
  const int = (v: string | undefined, fallback: number, name: string, min = 1) => {
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer ≥ ${min}`);
    return n;
  };
  const band = values.band === undefined ? DEFAULT_MODEL.band : Number(values.band);
  if (!Number.isFinite(band) || band < 0 || band > 0.5)
    throw new Error("--band must be a fraction in [0, 0.5]");
  const model: ModelOptions = {
    fast: int(values.fast, DEFAULT_MODEL.fast, "--fast"),
    slow: int(values.slow, DEFAULT_MODEL.slow, "--slow", 2),
    band,
    rsi: int(values.rsi, DEFAULT_MODEL.rsi, "--rsi", 2),
    timeframe: values.timeframe as Timeframe,
  };
  if (model.fast >= model.slow) throw new Error("--fast must be shorter than --slow");
  return {
    file,
    source: source.data,
    ...(values.symbol ? { symbol: values.symbol } : {}),
    model,
    batchSize: int(values.batch, 500, "--batch"),
    dryRun: values["dry-run"] ?? false,
  };
}

/** Prints progress on stderr at most once a second (and at the end). */
export function progressPrinter(label: string): (p: ReplayProgress) => void {
  let last = 0;
  return (p) => {
    const now = Date.now();
    if (now - last < 1000 && p.done < p.total) return;
    last = now;
    const pct = p.total ? Math.round((p.done / p.total) * 100) : 100;
    process.stderr.write(`${label}: ${p.done}/${p.total} snapshots (${pct}%), ${p.stats.events} changes\n`);
  };
}

export function formatStats(s: DetectStats): string {
  const types = Object.entries(s.byType)
    .sort()
    .map(([k, v]) => `${k} ${v}`)
    .join(", ");
  return `${s.events} changes (${types || "none"}); ${s.baseline} baselines, ${s.updated} updates without change, ${s.identical} identical, ${s.older} older ignored`;
}

/** `signalpost replay FILE …` */
export async function runReplay(config: Config, args: string[]): Promise<number> {
  let parsed: ReplayArgs;
  try {
    parsed = parseReplayArgs(args);
  } catch (err) {
    console.error(`replay: ${(err as Error).message}\n\n${REPLAY_USAGE}`);
    return 2;
  }
  const started = performance.now();
  let input: Awaited<ReturnType<typeof readReplayInput>>;
  try {
    input = await readReplayInput(parsed.file, {
      source: parsed.source,
      model: parsed.model,
      ...(parsed.symbol ? { symbol: parsed.symbol } : {}),
    });
  } catch (err) {
    if (err instanceof ReplayInputError || (err as NodeJS.ErrnoException).code === "ENOENT") {
      console.error(`replay: ${parsed.file}: ${(err as Error).message}`);
      return 1;
    }
    throw err;
  }
  process.stderr.write(
    `replay: ${input.rows} ${input.format === "prices" ? "price rows" : "lines"}, ${input.symbols.length} symbol(s) → ${input.snapshots.length} snapshots\n`,
  );
  if (parsed.dryRun) return 0;

  const logger = createLogger(config.LOG_LEVEL === "info" ? "warn" : config.LOG_LEVEL, { role: "replay" });
  const database = await openDatabase(config, logger);
  try {
    await runMigrations(database.url);
    const deps = await buildDeps(config, database.url, { logger, supervise: false, poolMax: 4, bossMax: 2 });
    try {
      const stats = await feedSnapshots(deps, input.snapshots, {
        batchSize: parsed.batchSize,
        onProgress: progressPrinter("replay"),
      });
      const secs = ((performance.now() - started) / 1000).toFixed(1);
      process.stdout.write(
        `replay: ${stats.snapshots} snapshots applied in ${secs} s: ${formatStats(stats)}\n`,
      );
    } finally {
      await closeDeps(deps);
    }
  } finally {
    await database.stop();
  }
  return 0;
}

/** Entry point registered in extra-commands.ts: loads the configuration, then replays. */
export async function runReplayCommand(args: string[]): Promise<number> {
  if (args.includes("--help") || args.includes("-h")) {
    console.log(REPLAY_USAGE);
    return 0;
  }
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`signalpost: ${err.message}`);
      return 2;
    }
    throw err;
  }
  return runReplay(config, args);
}
