import { eq } from "drizzle-orm";
import { afterAll, beforeAll, expect, test } from "vitest";
import { deliveries } from "../../db/schema/index.ts";
import { insertEvents } from "../../src/services/events/insert.ts";
import type { TestApp } from "../helpers/app.ts";
import type { TestDatabase } from "../helpers/db.ts";
import { urlFor } from "../helpers/db.ts";
import { startReceiver } from "../helpers/receiver.ts";
import { eventually, makeEndpoint, makeTenant } from "../integration/maintenance/fixtures.ts";
import {
  chaosDatabase,
  chaosEnv,
  type Proc,
  readyStatus,
  sleep,
  spawnSignalpost,
  startDbProxy,
} from "./harness.ts";

let db: TestDatabase;
let key: string;
let t: TestApp;
const procs: Proc[] = [];
beforeAll(async () => {
  ({ db, key, t } = await chaosDatabase());
});
afterAll(async () => {
  for (const p of procs) {
    p.kill("SIGKILL");
    await p.exited;
  }
  await t?.close();
  await db?.drop();
});

test("Postgres down at start, then lost mid-run: processes wait, report 503, and deliver everything after recovery", async () => {
  const rx = await startReceiver(() => ({ status: 200 }));
  const proxy = await startDbProxy();
  try {
    proxy.down();
    const viaProxy = new URL(urlFor(db.name));
    viaProxy.port = String(proxy.port);
    const env = chaosEnv(db, key, { DATABASE_URL: viaProxy.toString() });
    const api = await spawnSignalpost("api", env);
    const worker = await spawnSignalpost("worker", env);
    procs.push(api, worker);

    // Unavailable at start: both keep retrying instead of exiting.
    await api.waitLine(/database not reachable yet/);
    await worker.waitLine(/database not reachable yet/);
    await sleep(2_000);
    expect(api.child.exitCode).toBeNull();
    expect(worker.child.exitCode).toBeNull();

    proxy.up();
    await api.waitReady(60_000);
    await worker.waitReady(60_000);

    const tenantId = await makeTenant(t.deps);
    const ep = await makeEndpoint(t.deps, tenantId, rx.url);
    const publish = (n: number) =>
      t.deps.db.transaction((tx) =>
        insertEvents(
          t.deps,
          tx,
          Array.from({ length: n }, (_, i) => ({ type: "webhook.test", tenantId, data: { i } })),
        ),
      );
    await publish(1);
    await rx.waitFor(1, 20_000);

    // Lost mid-run: every connection cut, new ones refused.
    proxy.down();
    await eventually(async () => (await readyStatus(api.port)) === 503, 20_000);
    const ready = await fetch(`http://127.0.0.1:${api.port}/readyz`);
    expect(await ready.json()).toMatchObject({ status: "unavailable", checks: { database: "unavailable" } });
    const res = await fetch(`http://127.0.0.1:${api.port}/v1/endpoints`, {
      headers: { authorization: `Bearer ${t.operatorToken}` },
    });
    const text = await res.text();
    expect(res.status).toBe(503);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    expect(JSON.parse(text)).toMatchObject({ type: "/problems/unavailable", status: 503 });
    expect(text).not.toMatch(/\bat .+\.(ts|js):\d+|ECONN|postgres/i);

    // Work queued during the outage (written straight to the database, which is up for us).
    await publish(20);
    await sleep(3_000);
    expect(api.child.exitCode).toBeNull();
    expect(worker.child.exitCode).toBeNull();

    proxy.up();
    await eventually(async () => (await readyStatus(api.port)) === 200, 60_000);
    await rx.waitFor(21, 60_000);
    const rows = await eventually(async () => {
      const r = await t.deps.db.select().from(deliveries).where(eq(deliveries.endpointId, ep.id));
      return r.length === 21 && r.every((d) => d.status === "succeeded") ? r : null;
    }, 30_000);
    expect(rows).toHaveLength(21);
    const ok = await fetch(`http://127.0.0.1:${api.port}/v1/endpoints`, {
      headers: { authorization: `Bearer ${t.operatorToken}` },
    });
    expect(ok.status).toBe(200);
  } finally {
    await proxy.close();
    await rx.close();
  }
});
