import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { listDeliveries } from "../../services/deliveries/list.ts";
import { errorResponses, guard, pageOf, pageSchema, security, serviceCtx } from "../common.ts";
import type { AppEnv } from "../env.ts";
import { DeliverySchema, ListDeliveriesQuery } from "./schema.ts";

const route = createRoute({
  method: "get",
  path: "/v1/deliveries",
  tags: ["deliveries"],
  summary: "List deliveries",
  description:
    "Newest first, cursor-paginated, filterable by endpoint, event, status and creation time. Scope `deliveries:read`.",
  security,
  middleware: [guard({ scopes: ["deliveries:read"] })] as const,
  request: { query: ListDeliveriesQuery },
  responses: {
    200: {
      description: "A page of deliveries",
      content: { "application/json": { schema: pageSchema(DeliverySchema).openapi("DeliveryPage") } },
    },
    ...errorResponses,
  },
});

export function registerListDeliveries(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const q = c.req.valid("query");
    const rows = await listDeliveries(serviceCtx(c), {
      ...q,
      since: q.since ? new Date(q.since) : undefined,
      until: q.until ? new Date(q.until) : undefined,
    });
    return c.json(pageOf(rows, q.limit), 200);
  });
}
