import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "./env.ts";

const Health = z.object({
  status: z.enum(["ok", "unavailable"]),
  checks: z.record(z.string(), z.string()).optional(),
});

const healthz = createRoute({
  method: "get",
  path: "/healthz",
  tags: ["health"],
  summary: "Liveness: the process is up",
  responses: { 200: { description: "alive", content: { "application/json": { schema: Health } } } },
});

const readyz = createRoute({
  method: "get",
  path: "/readyz",
  tags: ["health"],
  summary: "Readiness: the database and the job queue answer",
  responses: {
    200: { description: "ready", content: { "application/json": { schema: Health } } },
    503: { description: "not ready", content: { "application/json": { schema: Health } } },
  },
});

export function registerHealthRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openapi(healthz, (c) => c.json({ status: "ok" as const }, 200));
  app.openapi(readyz, async (c) => {
    const { sql, boss } = c.get("deps");
    const checks: Record<string, string> = {};
    const withTimeout = <T>(p: Promise<T>) =>
      Promise.race([p, new Promise<never>((_, rej) => setTimeout(() => rej(new Error("timeout")), 2000))]);
    try {
      await withTimeout(sql`select 1`);
      checks.database = "ok";
    } catch {
      checks.database = "unavailable";
    }
    try {
      await withTimeout(boss.getDb().executeSql("select 1", []));
      checks.queue = "ok";
    } catch {
      checks.queue = "unavailable";
    }
    const ok = Object.values(checks).every((v) => v === "ok");
    return ok
      ? c.json({ status: "ok" as const, checks }, 200)
      : c.json({ status: "unavailable" as const, checks }, 503);
  });
}
