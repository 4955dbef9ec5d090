import { describe, expect, test } from "vitest";
import { nextAttemptDelay, parseRetryAfter } from "../../../src/delivery/retry-policy.ts";

const MAX = 3_600_000;

/** Runs the policy the way the engine does: attempt 1 at once, then one delay per failure. */
function attemptsFor(schedule: number[], opts: { random?: () => number; jitter?: number } = {}) {
  const delays: number[] = [];
  let made = 1;
  for (;;) {
    const d = nextAttemptDelay({
      schedule,
      attemptsInCycle: made,
      jitter: opts.jitter ?? 0,
      retryAfterMaxMs: MAX,
      ...(opts.random ? { random: opts.random } : {}),
    });
    if (d === null) break;
    delays.push(d);
    made++;
    if (made > 1000) throw new Error("runaway schedule");
  }
  return { attempts: made, delays };
}

describe("nextAttemptDelay", () => {
  test.each([
    [[], 1],
    [[10], 2],
    [[10, 20, 30], 4],
    [[5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000], 8],
  ])("schedule %j gives exactly %i attempts, delays in order", (schedule, n) => {
    const r = attemptsFor(schedule);
    expect(r.attempts).toBe(n);
    expect(r.delays).toEqual(schedule);
  });

  test("the first delay is used first (after attempt 1)", () => {
    expect(
      nextAttemptDelay({ schedule: [111, 222], attemptsInCycle: 1, jitter: 0, retryAfterMaxMs: MAX }),
    ).toBe(111);
    expect(
      nextAttemptDelay({ schedule: [111, 222], attemptsInCycle: 2, jitter: 0, retryAfterMaxMs: MAX }),
    ).toBe(222);
    expect(
      nextAttemptDelay({ schedule: [111, 222], attemptsInCycle: 3, jitter: 0, retryAfterMaxMs: MAX }),
    ).toBeNull();
  });

  test("jitter stays within ±jitter of the base, reaching both bounds", () => {
    const at = (r: number) =>
      nextAttemptDelay({
        schedule: [10_000],
        attemptsInCycle: 1,
        jitter: 0.2,
        retryAfterMaxMs: MAX,
        random: () => r,
      });
    expect(at(0)).toBe(8_000);
    expect(at(0.5)).toBe(10_000);
    expect(at(0.999999)).toBe(12_000);
    for (let i = 0; i < 2_000; i++) {
      const d = nextAttemptDelay({
        schedule: [10_000],
        attemptsInCycle: 1,
        jitter: 0.2,
        retryAfterMaxMs: MAX,
      });
      expect(d).toBeGreaterThanOrEqual(8_000);
      expect(d).toBeLessThanOrEqual(12_000);
    }
  });

  test("Retry-After pushes the retry later, never earlier than the (jittered) schedule", () => {
    const opts = {
      schedule: [5_000],
      attemptsInCycle: 1,
      jitter: 0.2,
      retryAfterMaxMs: MAX,
      random: () => 1,
    };
    expect(nextAttemptDelay({ ...opts, retryAfterMs: 60_000 })).toBe(60_000);
    // A shorter Retry-After than the schedule does not bring the retry forward.
    expect(nextAttemptDelay({ ...opts, retryAfterMs: 1_000 })).toBe(6_000);
    expect(nextAttemptDelay({ ...opts, retryAfterMs: 0 })).toBe(6_000);
    expect(nextAttemptDelay({ ...opts, retryAfterMs: null })).toBe(6_000);
  });

  test("Retry-After is clamped to the maximum", () => {
    expect(
      nextAttemptDelay({
        schedule: [50],
        attemptsInCycle: 1,
        jitter: 0,
        retryAfterMs: 1e12,
        retryAfterMaxMs: 1_500,
      }),
    ).toBe(1_500);
  });

  test("Retry-After never extends the number of attempts", () => {
    expect(
      nextAttemptDelay({
        schedule: [50],
        attemptsInCycle: 2,
        jitter: 0,
        retryAfterMs: 1_000,
        retryAfterMaxMs: MAX,
      }),
    ).toBeNull();
  });
});

describe("parseRetryAfter", () => {
  const now = new Date("2026-12-03T10:00:00.000Z");

  test.each([
    ["0", 0],
    ["1", 1_000],
    [" 120 ", 120_000],
    ["86400", 86_400_000],
    // Huge values are kept (capped at 1e9 s) so the caller's clamp applies instead of ignoring them.
    ["99999999999999999999", 1e12],
  ])("delta-seconds %j → %i ms", (value, ms) => {
    expect(parseRetryAfter(value, now)).toBe(ms);
  });

  test.each([
    ["Thu, 03 Dec 2026 10:00:30 GMT", 30_000], // IMF-fixdate
    ["Thursday, 03-Dec-26 10:01:00 GMT", 60_000], // RFC 850
    ["Thu Dec  3 10:00:05 2026", 5_000], // asctime
    ["Thu, 03 Dec 2026 09:00:00 GMT", 0], // in the past: due now
  ])("HTTP-date %j → %i ms", (value, ms) => {
    expect(parseRetryAfter(value, now)).toBe(ms);
  });

  test.each([
    [undefined],
    [null],
    [""],
    ["soon"],
    ["-5"],
    ["5.5"],
    ["1e3"],
    ["0x10"],
    ["Retry 5"],
    ["abc 2099"],
    ["Mon 1"],
    ["2026-12-03T10:00:30Z"],
    ["Thu, 03 Dec 2026 10:00:30"],
    ["Thu, 03 Dec 2026 25:00:30 GMT"],
  ])("ignores %j", (value) => {
    expect(parseRetryAfter(value, now)).toBeNull();
  });
});
