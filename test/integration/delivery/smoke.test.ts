import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, expect, test } from "vitest";
import { endpointSecrets, endpoints, tenants } from "../../../db/schema/index.ts";
import { generateSecret } from "../../../src/delivery/sign.ts";
import { newId } from "../../../src/lib/ids.ts";
import { insertEvents } from "../../../src/services/events/insert.ts";
import { startTestApp, type TestApp } from "../../helpers/app.ts";
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
