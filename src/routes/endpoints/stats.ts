import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { endpointStats } from "../../services/endpoints/stats.ts";
import { errorResponses, guard, IdParam, security, serviceCtx } from "../common.ts";
import type { AppEnv } from "../env.ts";
import { StatsQuery, StatsSchema } from "./schema.ts";

const route = createRoute({
  method: "get",
  path: "/v1/endpoints/{id}/stats",
  tags: ["endpoints"],
  summary: "Delivery and attempt statistics",
  description:
    "Deliveries created since `since` by status; attempts started since `since` by outcome, with latency p50/p95/p99 in ms. Scope `endpoints:read`.",
  security,
  middleware: [guard({ scopes: ["endpoints:read"] })] as const,
  request: { params: IdParam("ep", "01JF3ZQ4C8M3W5V6X7Y8Z9A0B1"), query: StatsQuery },
  responses: {
    200: { description: "Statistics", content: { "application/json": { schema: StatsSchema } } },
    ...errorResponses,
  },
});

export function registerEndpointStats(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    return c.json(await endpointStats(serviceCtx(c), c.req.valid("param").id, c.req.valid("query")), 200);
  });
}
