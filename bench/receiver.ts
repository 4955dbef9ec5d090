import http from "node:http";
import type { AddressInfo } from "node:net";
import { decodeTime } from "ulid";
import { verifyWebhook } from "../src/delivery/verify.ts";
import { percentiles } from "./processes.ts";

/**
 * The benchmark's receiver, run as its own process (`node bench/receiver.ts <secret>`): verifies
 * every request's signature, counts duplicates (same webhook-id to the same URL), and records
 * publish→receipt latency from the event id (a ULID minted at publish). Control routes under
 * /__ report and reset the counters. Prints `{"port":N}` once listening.
 */
const secret = process.argv[2] ?? "";
let received = 0;
let verified = 0;
let rejected = 0;
const seen = new Set<string>();
let duplicates = 0;
let latencies: number[] = [];
/** Receipt times (ms since epoch) in the order of `latencies`, to see when the slow ones came. */
let receivedAt: number[] = [];
/** First receipt time per event id, for latency measured from the publisher's side (/__receipts). */
let firstReceipt = new Map<string, number>();
let lastAt = 0;

const server = http.createServer((req, res) => {
  if (req.url?.startsWith("/__")) {
    if (req.url === "/__reset") {
      received = verified = rejected = duplicates = 0;
      seen.clear();
      latencies = [];
      receivedAt = [];
      firstReceipt = new Map();
    }
    res.writeHead(200, { "content-type": "application/json" });
    if (req.url === "/__receipts") {
      res.end(JSON.stringify(Object.fromEntries(firstReceipt)));
      return;
    }
    res.end(
      JSON.stringify({
        received,
        verified,
        rejected,
        duplicates,
        lastAt,
        latencies: percentiles(latencies),
        slowest: slowest(20),
      }),
    );
    return;
  }
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", () => {
    const now = Date.now();
    received++;
    lastAt = now;
    const id = String(req.headers["webhook-id"] ?? "");
    if (secret && id.startsWith("evt_")) {
      const ok = verifyWebhook({
        secrets: [secret],
        id,
        timestamp: req.headers["webhook-timestamp"] as string | undefined,
        signature: req.headers["webhook-signature"] as string | undefined,
        body: Buffer.concat(chunks).toString("utf8"),
      }).ok;
      if (ok) verified++;
      else rejected++;
      const key = `${req.url} ${id}`;
      if (seen.has(key)) duplicates++;
      else seen.add(key);
      latencies.push(now - decodeTime(id.slice(4)));
      receivedAt.push(now);
      if (!firstReceipt.has(id)) firstReceipt.set(id, now);
    }
    res.writeHead(204);
    res.end();
  });
});
server.keepAliveTimeout = 30_000;
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
});

/** The n slowest receipts: when each arrived and its publish→receipt latency (ms). */
function slowest(n: number) {
  return latencies
    .map((ms, i) => ({ at: receivedAt[i] ?? 0, ms }))
    .sort((a, b) => b.ms - a.ms)
    .slice(0, n);
}
