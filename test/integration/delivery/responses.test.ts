import type http from "node:http";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { TRUNCATION_MARKER } from "../../../src/delivery/send.ts";
import { startTestApp, type TestApp } from "../../helpers/app.ts";
import { attemptsOf, createEndpoint, publish, settledDelivery } from "../../helpers/fixtures.ts";
import { type Received, type Reply, startReceiver } from "../../helpers/receiver.ts";

const CAP = 4_096;
const TIMEOUT_MS = 3_000;
const MB = 1024 * 1024;

let t: TestApp;
const closers: (() => Promise<void>)[] = [];
beforeAll(async () => {
  t = await startTestApp({
    env: { DELIVERY_RESPONSE_CAP_BYTES: String(CAP), DELIVERY_TIMEOUT: `${TIMEOUT_MS}ms` },
  });
});
afterAll(async () => {
  for (const c of closers) await c();
  await t?.close();
});

async function receiver(respond: (req: Received, index: number) => Reply | Promise<Reply>) {
  const rx = await startReceiver(respond);
  closers.push(rx.close);
  return rx;
}

async function deliverOnce(url: string, retrySchedule: number[] = [50]) {
  const ep = await createEndpoint(t, { url, retrySchedule });
  const ev = await publish(t, "webhook.test", { for: ep.id }, { tenantId: ep.tenantId });
  const delivery = await settledDelivery(t, ev.id, ep.id, { timeoutMs: 15_000 });
  return { ep, ev, delivery, atts: await attemptsOf(t, delivery.id) };
}

// One shared 64 KiB chunk, so the receivers themselves allocate (almost) nothing per byte sent.
const CHUNK = Buffer.alloc(64 * 1024, "x");

type StreamStats = { written: number; finished: boolean; closedAt: number | null };

/** Writes `total` bytes (Infinity: forever) respecting backpressure, until the client goes away. */
function stream(status: number, total: number, stats: StreamStats[]): (res: http.ServerResponse) => void {
  return (res) => {
    const s: StreamStats = { written: 0, finished: false, closedAt: null };
    stats.push(s);
    res.writeHead(status, { "content-type": "text/plain" });
    res.on("close", () => {
      s.closedAt = Date.now();
    });
    const pump = () => {
      while (s.closedAt === null && s.written < total) {
        const n = Math.min(CHUNK.length, total - s.written);
        s.written += n;
        if (!res.write(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n)))
          return void res.once("drain", pump);
      }
      if (s.written >= total && s.closedAt === null) {
        s.finished = true;
        res.end();
      }
    };
    pump();
  };
}

const expectCapped = (body: string | null) => {
  expect(body).toBe("x".repeat(CAP) + TRUNCATION_MARKER);
};

describe("response bodies are captured up to the cap", () => {
  test("a small body is kept whole, with the response headers", async () => {
    const rx = await receiver(() => ({ status: 200, headers: { "x-receipt": "r-1" }, body: "thanks 👍" }));
    const { atts } = await deliverOnce(rx.url);
    expect(atts[0]).toMatchObject({ responseBody: "thanks 👍", responseTruncated: false });
    expect(atts[0]?.responseHeaders?.["x-receipt"]).toBe("r-1");
  });

  test("200 with a 10 MB body: success exactly once, body stored truncated with the marker", async () => {
    const stats: StreamStats[] = [];
    const rx = await receiver(() => stream(200, 10 * MB, stats));
    const { delivery, atts } = await deliverOnce(rx.url, [50, 50]);
    expect(delivery).toMatchObject({ status: "succeeded", attemptCount: 1, lastStatusCode: 200 });
    expect(atts).toHaveLength(1);
    expect(atts[0]?.responseTruncated).toBe(true);
    expectCapped(atts[0]?.responseBody ?? null);
    await new Promise((r) => setTimeout(r, 200));
    expect(rx.requests).toHaveLength(1);
  });

  test("200 with a never-ending body: cut at the cap (not at the timeout), success exactly once", async () => {
    const stats: StreamStats[] = [];
    const rx = await receiver(() => stream(200, Number.POSITIVE_INFINITY, stats));
    const { delivery, atts } = await deliverOnce(rx.url, [50, 50]);
    expect(delivery).toMatchObject({ status: "succeeded", attemptCount: 1 });
    expectCapped(atts[0]?.responseBody ?? null);
    // The worker hung up as soon as it had the cap: well before the request timeout.
    expect(atts[0]?.durationMs).toBeLessThan(TIMEOUT_MS - 1_000);
    expect(stats[0]?.closedAt).not.toBeNull();
    expect(stats[0]?.finished).toBe(false);
    await new Promise((r) => setTimeout(r, 200));
    expect(rx.requests).toHaveLength(1);
  });

  test("500 with a never-ending body: a failure that follows the schedule, then dead (no retry loop)", async () => {
    const stats: StreamStats[] = [];
    const rx = await receiver(() => stream(500, Number.POSITIVE_INFINITY, stats));
    const { delivery, atts } = await deliverOnce(rx.url, [50]);
    expect(delivery).toMatchObject({ status: "dead", attemptCount: 2 });
    expect(atts.map((a) => [a.outcome, a.statusCode, a.responseTruncated])).toEqual([
      ["failed", 500, true],
      ["failed", 500, true],
    ]);
    expect(rx.requests).toHaveLength(2);
  });

  test("a body that drips and stalls: the deadline ends it, the status decides", async () => {
    const rx = await receiver(() => (res: http.ServerResponse) => {
      res.writeHead(200);
      res.write("partial");
    });
    const { delivery, atts } = await deliverOnce(rx.url);
    expect(delivery.status).toBe("succeeded");
    expect(atts[0]).toMatchObject({ responseBody: `partial${TRUNCATION_MARKER}`, responseTruncated: true });
    expect(atts[0]?.durationMs).toBeGreaterThanOrEqual(TIMEOUT_MS - 5);
  });

  test("a binary body with NUL bytes is recorded (PostgreSQL text cannot hold U+0000)", async () => {
    const rx = await receiver(() => (res: http.ServerResponse) => {
      res.writeHead(200, { "content-type": "application/octet-stream" });
      res.end(Buffer.from([0x6f, 0x6b, 0x00, 0xff, 0x00, 0x21]));
    });
    const { delivery, atts } = await deliverOnce(rx.url, [50, 50]);
    expect(delivery).toMatchObject({ status: "succeeded", attemptCount: 1 });
    expect(atts[0]?.responseBody).toBe("ok\uFFFD\uFFFD\uFFFD!");
    await new Promise((r) => setTimeout(r, 1_500));
    // Before the fix, recording failed, the job was retried by the queue, and the webhook re-sent.
    expect(rx.requests).toHaveLength(1);
  });

  test("memory stays flat across 10 MB and endless responses", async () => {
    const stats: StreamStats[] = [];
    const big = await receiver(() => stream(200, 10 * MB, stats));
    const endless = await receiver(() => stream(200, Number.POSITIVE_INFINITY, stats));
    global.gc?.();
    const before = process.memoryUsage().rss;
    let peak = before;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 5);
    try {
      await Promise.all([
        ...Array.from({ length: 5 }, () => deliverOnce(big.url)),
        ...Array.from({ length: 5 }, () => deliverOnce(endless.url)),
      ]);
    } finally {
      clearInterval(sampler);
    }
    const deltaMb = (peak - before) / MB;
    console.log(
      `rss before ${(before / MB).toFixed(1)} MB, peak delta ${deltaMb.toFixed(1)} MB over 10 deliveries`,
    );
    expect(deltaMb).toBeLessThan(50);
    expect(big.requests).toHaveLength(5);
    expect(endless.requests).toHaveLength(5);
  });
});
