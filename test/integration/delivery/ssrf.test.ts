import net from "node:net";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { endpoints } from "../../../db/schema/index.ts";
import type { ResolvedAddress, Resolver } from "../../../src/delivery/ssrf.ts";
import { startTestApp, type TestApp } from "../../helpers/app.ts";
import { attemptsOf, createEndpoint, publish, settledDelivery, waitUntil } from "../../helpers/fixtures.ts";
import { startReceiver } from "../../helpers/receiver.ts";

/**
 * Canaries: TCP listeners on addresses the guard must never let a delivery reach (127.0.0.2 and
 * ::1; the test allowlist opens 127.0.0.1/32 only). They count connections, not just requests, and
 * must count zero over the whole file.
 */
type Canary = { host: string; port: number; connections: number; close: () => Promise<void> };
async function canary(host: string, port = 0): Promise<Canary> {
  const c = { host, port, connections: 0, close: async () => {} };
  const server = net.createServer((socket) => {
    c.connections++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  c.port = (server.address() as net.AddressInfo).port;
  c.close = () => new Promise<void>((r) => server.close(() => r()));
  return c;
}

let t: TestApp;
let v4: Canary; // 127.0.0.2
let v6: Canary; // ::1
let rebindCanary: Canary; // 127.0.0.2, on the same port as the legitimate receiver below
let legit: Awaited<ReturnType<typeof startReceiver>>; // 127.0.0.1: allowed
const canaries: Canary[] = [];

const resolverCalls: string[] = [];
const answers: Record<string, () => ResolvedAddress[]> = {
  "private.test": () => [{ address: "127.0.0.2", family: 4 }],
  "private6.test": () => [{ address: "::1", family: 6 }],
  "mapped.test": () => [{ address: "::ffff:127.0.0.2", family: 6 }],
  "metadata.test": () => [{ address: "169.254.169.254", family: 4 }],
  "mixed.test": () => [
    { address: "127.0.0.1", family: 4 },
    { address: "127.0.0.2", family: 4 },
  ],
  "mixed-reversed.test": () => [
    { address: "127.0.0.2", family: 4 },
    { address: "127.0.0.1", family: 4 },
  ],
  "mixed-public.test": () => [
    { address: "8.8.8.8", family: 4 },
    { address: "127.0.0.2", family: 4 },
  ],
  "mixed6.test": () => [
    { address: "127.0.0.1", family: 4 },
    { address: "::1", family: 6 },
  ],
  // DNS rebinding: the first answer passes the check, every later one points at the canary.
  "rebind.test": () =>
    resolverCalls.filter((h) => h === "rebind.test").length === 1
      ? [{ address: "127.0.0.1", family: 4 }]
      : [{ address: "127.0.0.2", family: 4 }],
};
const resolver: Resolver = async (host) => {
  resolverCalls.push(host);
  const answer = answers[host];
  if (!answer) throw Object.assign(new Error(`ENOTFOUND ${host}`), { code: "ENOTFOUND" });
  return answer();
};

beforeAll(async () => {
  t = await startTestApp({ build: { resolver }, env: { SSRF_ALLOW_CIDRS: "127.0.0.1/32" } });
  legit = await startReceiver(() => ({ status: 200 }));
  // First: a port picked for 127.0.0.2 may carry the same number as 127.0.0.1's (seen in CI as
  // EADDRINUSE), so the fixed one is bound before the picked ones.
  rebindCanary = await canary("127.0.0.2", legit.port);
  v4 = await canary("127.0.0.2");
  v6 = await canary("::1");
  canaries.push(v4, v6, rebindCanary);
});

afterAll(async () => {
  try {
    // The point of the whole file: nothing ever reached a canary.
    expect(canaries.map((c) => `${c.host}:${c.port}=${c.connections}`)).toEqual(
      canaries.map((c) => `${c.host}:${c.port}=0`),
    );
  } finally {
    for (const c of canaries) await c.close();
    await legit?.close();
    await t?.close();
  }
});

/** Inserts the endpoint row directly (the API would refuse these URLs) and publishes one event. */
async function deliverTo(url: string, retrySchedule = [30]) {
  const ep = await createEndpoint(t, { url, retrySchedule });
  const ev = await publish(t, "webhook.test", { to: url }, { tenantId: ep.tenantId });
  const delivery = await settledDelivery(t, ev.id, ep.id);
  return { ep, ev, delivery, atts: await attemptsOf(t, delivery.id) };
}

describe("delivery-time SSRF guard", () => {
  test.each([
    ["http://127.0.0.2:{v4}/hook", "the address 127.0.0.2 is in a blocked range (ipv4 loopback)"],
    ["http://2130706434:{v4}/hook", "the address 127.0.0.2 is in a blocked range"],
    ["http://0x7f000002:{v4}/hook", "the address 127.0.0.2 is in a blocked range"],
    ["http://0177.0.0.2:{v4}/hook", "the address 127.0.0.2 is in a blocked range"],
    ["http://127.2:{v4}/hook", "the address 127.0.0.2 is in a blocked range"],
    ["http://127.0.0.2.:{v4}/hook", "the address 127.0.0.2 is in a blocked range"],
    [
      "http://[::ffff:127.0.0.2]:{v4}/hook",
      "the address ::ffff:7f00:2 is in a blocked range (ipv4 loopback)",
    ],
    ["http://[::1]:{v6}/hook", "the address ::1 is in a blocked range (ipv6 loopback)"],
    ["http://[0:0:0:0:0:0:0:1]:{v6}/hook", "the address ::1 is in a blocked range"],
    ["http://0.0.0.0:{v4}/hook", "the address 0.0.0.0 is in a blocked range (ipv4 unspecified)"],
    [
      "http://169.254.169.254/latest/meta-data/",
      "the address 169.254.169.254 is in a blocked range (ipv4 linkLocal)",
    ],
  ])("%s is blocked at delivery: %s", async (template, reason) => {
    const url = template.replace("{v4}", String(v4.port)).replace("{v6}", String(v6.port));
    const { delivery, atts } = await deliverTo(url);
    expect(delivery).toMatchObject({ status: "dead", attemptCount: 2 });
    for (const a of atts) {
      expect(a).toMatchObject({ outcome: "blocked", errorClass: "blocked", statusCode: null, durationMs: 0 });
      expect(a.errorMessage).toContain(reason);
    }
    expect(delivery.lastError).toContain(reason);
  });

  test.each([
    [
      "private.test",
      "{v4}",
      "private.test resolves to 127.0.0.2, which is in a blocked range (ipv4 loopback)",
    ],
    ["private6.test", "{v6}", "private6.test resolves to ::1, which is in a blocked range (ipv6 loopback)"],
    ["mapped.test", "{v4}", "mapped.test resolves to ::ffff:127.0.0.2, which is in a blocked range"],
    ["metadata.test", "80", "metadata.test resolves to 169.254.169.254, which is in a blocked range"],
    ["mixed.test", "{v4}", "mixed.test resolves to 127.0.0.2"],
    ["mixed-reversed.test", "{v4}", "mixed-reversed.test resolves to 127.0.0.2"],
    ["mixed-public.test", "{v4}", "mixed-public.test resolves to 127.0.0.2"],
    ["mixed6.test", "{v6}", "mixed6.test resolves to ::1"],
  ])("a name resolving to a blocked address (%s) is blocked as a whole", async (host, port, reason) => {
    const p = port.replace("{v4}", String(v4.port)).replace("{v6}", String(v6.port));
    const { delivery, atts } = await deliverTo(`http://${host}:${p}/hook`);
    expect(delivery.status).toBe("dead");
    expect(atts.map((a) => a.outcome)).toEqual(["blocked", "blocked"]);
    expect(atts[0]?.errorMessage).toContain(reason);
  });

  test("blocked deliveries follow the schedule and end dead: no retry loop", async () => {
    const { delivery, atts } = await deliverTo(`http://127.0.0.2:${v4.port}/hook`, [30, 30, 30]);
    expect(delivery).toMatchObject({ status: "dead", attemptCount: 4 });
    expect(atts).toHaveLength(4);
    await new Promise((r) => setTimeout(r, 300));
    expect(await attemptsOf(t, delivery.id)).toHaveLength(4);
  });

  test("DNS rebinding: the connection goes to the address that was checked, never re-resolved", async () => {
    const before = legit.requests.length;
    const url = `http://rebind.test:${legit.port}/hook`;
    const first = await deliverTo(url);
    expect(first.delivery.status).toBe("succeeded");
    expect(legit.requests).toHaveLength(before + 1);
    // The request went to the checked 127.0.0.1, carrying the name in Host.
    expect(legit.requests.at(-1)?.headers.host).toBe(`rebind.test:${legit.port}`);
    expect(resolverCalls.filter((h) => h === "rebind.test")).toHaveLength(1);
    expect(rebindCanary.connections).toBe(0);

    // Now the name points at the canary (a pooled keep-alive socket to 127.0.0.1 may still exist):
    // the next delivery is checked again and blocked.
    const ev = await publish(t, "webhook.test", { again: true }, { tenantId: first.ep.tenantId });
    const second = await settledDelivery(t, ev.id, first.ep.id);
    expect(second.status).toBe("dead");
    const atts = await attemptsOf(t, second.id);
    expect(atts.map((a) => a.outcome)).toEqual(["blocked", "blocked"]);
    expect(atts[0]?.errorMessage).toContain("rebind.test resolves to 127.0.0.2");
    expect(legit.requests).toHaveLength(before + 1);
  });

  test("a URL changed to a blocked address mid-retry is blocked on the next attempt", async () => {
    const failing = await startReceiver(() => ({ status: 500 }));
    try {
      const ep = await createEndpoint(t, { url: failing.url, retrySchedule: [400, 30] });
      const ev = await publish(t, "webhook.test", { n: 1 }, { tenantId: ep.tenantId });
      await failing.waitFor(1);
      await t.deps.db
        .update(endpoints)
        .set({ url: `http://0x7f000002:${v4.port}/hook` })
        .where(eq(endpoints.id, ep.id));
      const d = await settledDelivery(t, ev.id, ep.id);
      const atts = await attemptsOf(t, d.id);
      expect(atts.map((a) => [a.outcome, a.url])).toEqual([
        ["failed", failing.url],
        ["blocked", `http://0x7f000002:${v4.port}/hook`],
        ["blocked", `http://0x7f000002:${v4.port}/hook`],
      ]);
      expect(failing.requests).toHaveLength(1);
    } finally {
      await failing.close();
    }
  });

  test("a redirect towards a canary is not followed", async () => {
    const redirector = await startReceiver(() => ({
      status: 307,
      headers: { location: `http://127.0.0.2:${v4.port}/hook` },
    }));
    try {
      const { atts } = await deliverTo(redirector.url);
      expect(atts.map((a) => a.errorClass)).toEqual(["redirect", "redirect"]);
      expect(atts[0]?.errorMessage).toContain(`Location: http://127.0.0.2:${v4.port}/hook`);
    } finally {
      await redirector.close();
    }
  });

  test("the allowlisted 127.0.0.1 is reachable, by literal and by a name that resolves to it only", async () => {
    const before = legit.requests.length;
    expect((await deliverTo(legit.url)).delivery.status).toBe("succeeded");
    answers["allowed.test"] = () => [{ address: "127.0.0.1", family: 4 }];
    expect((await deliverTo(`http://allowed.test:${legit.port}/hook`)).delivery.status).toBe("succeeded");
    await waitUntil(async () => legit.requests.length === before + 2, 2_000, "two legit requests");
  });

  test("the canaries recorded nothing (also asserted after every test in afterAll)", () => {
    expect(v4.connections + v6.connections + rebindCanary.connections).toBe(0);
  });
});
