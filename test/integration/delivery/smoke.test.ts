import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, expect, test } from "vitest";
import { endpointSecrets, endpoints, tenants } from "../../../db/schema/index.ts";
import { generateSecret } from "../../../src/delivery/sign.ts";
import { newId } from "../../../src/lib/ids.ts";
import { insertEvents } from "../../../src/services/events/insert.ts";
import { startTestApp, type TestApp } from "../../helpers/app.ts";
import { createEndpoint, publish } from "../../helpers/fixtures.ts";
import { startReceiver } from "../../helpers/receiver.ts";

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ workers: true });
});
afterAll(async () => {
  await t?.close();
});

test("an inserted event reaches a receiver, signed", async () => {
  const rx = await startReceiver();
  const tenantId = newId("ten");
  const endpointId = newId("ep");
  const secret = generateSecret();
  await t.deps.db.insert(tenants).values({ id: tenantId, name: "t" });
  await t.deps.db.insert(endpoints).values({ id: endpointId, tenantId, url: rx.url });
  const enc = t.deps.keyring.encrypt(secret);
  await t.deps.db
    .insert(endpointSecrets)
    .values({ id: newId("whs"), endpointId, keyId: enc.keyId, ciphertext: enc.ciphertext });
  const started = Date.now();
  const [ev] = await t.deps.db.transaction((tx) =>
    insertEvents(t.deps, tx, [{ type: "webhook.test", data: { hello: "wörld 🚀 \u2028" } }]),
  );
  const [req] = await rx.waitFor(1);
  console.log("publish→receipt ms", Date.now() - started);
  expect(req?.headers["webhook-id"]).toBe(ev?.id);
  const wh = new Webhook(secret);
  const payload = wh.verify(req?.body.toString("utf8") ?? "", {
    "webhook-id": String(req?.headers["webhook-id"]),
    "webhook-timestamp": String(req?.headers["webhook-timestamp"]),
    "webhook-signature": String(req?.headers["webhook-signature"]),
  });
  expect(payload).toMatchObject({ type: "webhook.test", data: { hello: "wörld 🚀 \u2028" } });
  await rx.close();
});

test("publish → receipt latency over 20 events (one at a time)", async () => {
  const rx = await startReceiver();
  const ep = await createEndpoint(t, { url: rx.url });
  const samples: number[] = [];
  for (let i = 0; i < 20; i++) {
    const started = Date.now();
    await publish(t, "webhook.test", { i }, { tenantId: ep.tenantId });
    const reqs = await rx.waitFor(i + 1, 5_000);
    samples.push((reqs[i]?.at ?? Number.NaN) - started);
  }
  samples.sort((a, b) => a - b);
  const pct = (p: number) => samples[Math.min(samples.length - 1, Math.ceil((p / 100) * samples.length) - 1)];
  console.log(`publish→receipt ms over 20 events: p50 ${pct(50)}, p95 ${pct(95)}, max ${samples.at(-1)}`);
  expect(rx.requests).toHaveLength(20);
  // Generous: LISTEN/NOTIFY should make this tens of ms; the idle poll (500 ms) is the ceiling.
  expect(pct(50)).toBeLessThan(500);
  await rx.close();
});
