import {
  type GradeValue,
  isSignalKind,
  type SignalValue,
  type Snapshot,
  type StateValue,
} from "./snapshot.ts";

/**
 * The detection rules, as a pure function of (stored state, next snapshot). docs/detector.md
 * describes them; the detector applies them under a row lock, the tests call them directly.
 */

/** What the detector remembers per (source, symbol, kind, timeframe). */
export type KeyState = {
  /** The latest applied value. */
  value: StateValue;
  /** The value carried by the last emitted event (or the baseline). Grade thresholds compare with it. */
  emitted: StateValue;
  observedAt: Date;
};

export type ChangeEvent = {
  type: "signal.changed" | "grade.upgraded" | "grade.downgraded";
  symbol: string;
  occurredAt: Date;
  data: Record<string, unknown>;
};

export type Decision =
  /** First snapshot of the key: becomes the baseline, emits nothing. */
  | { outcome: "baseline"; state: KeyState }
  /** Same value as stored at the same time: nothing to do. */
  | { outcome: "identical"; state: KeyState }
  /** Older than the stored state: ignored (logged by the caller). */
  | { outcome: "older"; state: KeyState }
  /** Newer, but below the rules' bar: the state moves on, nothing is emitted. */
  | { outcome: "updated"; state: KeyState }
  | { outcome: "changed"; state: KeyState; event: ChangeEvent };

export type RuleOptions = {
  /** Score move (points, inclusive) since the last emitted grade that emits an event. */
  gradeScoreThreshold: number;
};

/** Rank of well-known grade labels, used only when the score alone does not say up or down. */
const LABEL_RANK: Record<string, number> = {
  "strong sell": 0,
  sell: 1,
  neutral: 2,
  buy: 3,
  "strong buy": 4,
  highrisk: 0,
  speculative: 1,
  emerging: 2,
  bluechip: 3,
  storeofvalue: 4,
};

export function decide(prev: KeyState | null, snap: Snapshot, opts: RuleOptions): Decision {
  const next: KeyState = { value: snap.value, emitted: snap.value, observedAt: snap.observedAt };
  if (!prev) return { outcome: "baseline", state: next };
  const dt = snap.observedAt.getTime() - prev.observedAt.getTime();
  if (dt < 0) return { outcome: "older", state: prev };
  if (dt === 0 && sameValue(prev.value, snap.value)) return { outcome: "identical", state: prev };

  if (isSignalKind(snap.kind)) {
    const before = prev.value as SignalValue;
    const after = snap.value as SignalValue;
    if (before.value === after.value)
      return { outcome: "updated", state: { ...next, emitted: prev.emitted } };
    return {
      outcome: "changed",
      state: next,
      event: {
        type: "signal.changed",
        symbol: snap.symbol,
        occurredAt: snap.observedAt,
        data: {
          symbol: snap.symbol,
          kind: snap.kind,
          timeframe: snap.timeframe || "1d",
          previous: signalPayload(before),
          current: signalPayload(after),
          observedAt: snap.observedAt.toISOString(),
          source: snap.source,
        },
      },
    };
  }

  const last = prev.emitted as GradeValue;
  const now = snap.value as GradeValue;
  const labelChanged = normaliseLabel(last.label) !== normaliseLabel(now.label);
  const moved = Math.abs(now.score - last.score) >= opts.gradeScoreThreshold;
  if (!labelChanged && !moved) return { outcome: "updated", state: { ...next, emitted: prev.emitted } };
  return {
    outcome: "changed",
    state: next,
    event: {
      type:
        gradeDirection(last, now, prev.value as GradeValue) === "up" ? "grade.upgraded" : "grade.downgraded",
      symbol: snap.symbol,
      occurredAt: snap.observedAt,
      data: {
        symbol: snap.symbol,
        kind: snap.kind,
        previous: gradePayload(last),
        current: gradePayload(now),
        observedAt: snap.observedAt.toISOString(),
        source: snap.source,
      },
    },
  };
}

/**
 * Up or down: by score against the last emitted value; on a tie, by label rank; then by score
 * against the latest stored value; a label change that none of these orders counts as an upgrade.
 */
function gradeDirection(last: GradeValue, now: GradeValue, latest: GradeValue): "up" | "down" {
  if (now.score !== last.score) return now.score > last.score ? "up" : "down";
  const a = LABEL_RANK[normaliseLabel(last.label)];
  const b = LABEL_RANK[normaliseLabel(now.label)];
  if (a !== undefined && b !== undefined && a !== b) return b > a ? "up" : "down";
  if (now.score !== latest.score) return now.score > latest.score ? "up" : "down";
  return "up";
}

function normaliseLabel(label: string): string {
  return label.trim().toLowerCase();
}

function signalPayload(v: SignalValue): SignalValue {
  return v.score === undefined ? { value: v.value } : { value: v.value, score: v.score };
}

function gradePayload(v: GradeValue): GradeValue {
  return v.components
    ? { score: v.score, label: v.label, components: v.components }
    : { score: v.score, label: v.label };
}

/** Deep equality of two state values (plain JSON objects), independent of key order. */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) return false;
  const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
  const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => sameValue((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}
