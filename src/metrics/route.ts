import { timingSafeEqual } from "node:crypto";
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../routes/env.ts";

/**
 * `GET /metrics` in Prometheus text format. Outside `/v1` and the OpenAPI document (it is for
 * scrapers, not API clients). Open by default like /healthz — it carries counts, never tenant
 * data — unless METRICS_TOKEN is set, then it needs `Authorization: Bearer <token>`; off entirely
 * with METRICS_ENABLED=false.
 */
export function registerMetricsRoute(app: OpenAPIHono<AppEnv>): void {
  app.get("/metrics", async (c) => {
    const { config, metrics, logger } = c.get("deps");
    if (!config.METRICS_ENABLED) return c.notFound();
    if (config.METRICS_TOKEN && !bearerMatches(c.req.header("authorization"), config.METRICS_TOKEN))
      return c.text("unauthorized\n", 401, { "www-authenticate": 'Bearer realm="metrics"' });
    try {
      const body = await metrics.registry.metrics();
      return c.body(body, 200, { "content-type": metrics.registry.contentType });
    } catch (err) {
      logger.warn({ err }, "collecting metrics failed");
      return c.text("metrics unavailable\n", 503);
    }
  });
}

function bearerMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer (.+)$/.exec(header ?? "");
  if (!m?.[1]) return false;
  const a = Buffer.from(m[1]);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}
