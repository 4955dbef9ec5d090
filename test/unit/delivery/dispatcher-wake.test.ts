import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { DeliveryDispatcher, WAKE_HORIZON_MS } from "../../../src/delivery/dispatcher.ts";
import type { Deps } from "../../../src/deps.ts";

/**
 * wakeAt's timer bookkeeping, on a dispatcher that is never started (nothing here touches the
 * database or the queue; the integration side is test/integration/delivery/wake.test.ts).
 */
function dispatcher(): { d: DeliveryDispatcher; wakes: number[] } {
  const d = new DeliveryDispatcher({ boss: {} } as unknown as Deps, {
    concurrency: 1,
    endpointConcurrency: 1,
    pollMs: 500,
  });
  const wakes: number[] = [];
  d.wake = () => {
    wakes.push(Date.now());
  };
  return { d, wakes };
}

const T0 = 1_800_000_000_000;

beforeEach(() => {
  vi.useFakeTimers({ now: T0 });
});
afterEach(() => {
  vi.useRealTimers();
});

describe("DeliveryDispatcher.wakeAt", () => {
  test("thousands of retries within the horizon share one live timer", () => {
    const { d } = dispatcher();
    for (let i = 0; i < 5_000; i++) d.wakeAt(new Date(T0 + 1_000 + ((i * 7919) % 50_000)));
    expect(vi.getTimerCount()).toBe(1);
  });

  test("wakes at each distinct due time in order, beyond the poll interval, never early", () => {
    const { d, wakes } = dispatcher();
    // Out of order, with duplicates and times within one 10 ms step.
    for (const ms of [30_000, 2_001, 45_000, 2_001, 2_008, 700]) d.wakeAt(new Date(T0 + ms));
    vi.advanceTimersByTime(60_000);
    expect(wakes.map((w) => w - T0)).toEqual([705, 2_015, 30_005, 45_005]);
    expect(vi.getTimerCount()).toBe(0);
  });

  test("an earlier retry arriving later re-arms the one timer for it", () => {
    const { d, wakes } = dispatcher();
    d.wakeAt(new Date(T0 + 10_000));
    vi.advanceTimersByTime(1_000);
    d.wakeAt(new Date(T0 + 3_000));
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(20_000);
    expect(wakes.map((w) => w - T0)).toEqual([3_005, 10_005]);
  });

  test("beyond the horizon: no timer (the poll finds it); already due: wakes at once", () => {
    const { d, wakes } = dispatcher();
    d.wakeAt(new Date(T0 + WAKE_HORIZON_MS + 1_000));
    expect(vi.getTimerCount()).toBe(0);
    d.wakeAt(new Date(T0 - 5));
    expect(wakes).toEqual([T0]);
  });
});
