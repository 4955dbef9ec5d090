import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { listDeliveries } from "../../services/deliveries/list.ts";
import { errorResponses, guard, pageOf, pageSchema, security, serviceCtx } from "../common.ts";
import { DeliverySchema } from "../deliveries/schema.ts";
import type { AppEnv } from "../env.ts";
import { ListDeadLettersQuery } from "./schema.ts";

const route = createRoute({
  method: "get",
  path: "/v1/dead-letters",
  tags: ["dead letters"],
  summary: "List dead-lettered deliveries",
  description: "Deliveries that exhausted their retries (or hit 410), newest first. Scope `deliveries:read`.",
  security,
  middleware: [guard({ scopes: ["deliveries:read"] })] as const,
  request: { query: ListDeadLettersQuery },
  responses: {
    200: {
      description: "A page of dead deliveries",
      content: { "application/json": { schema: pageSchema(DeliverySchema).openapi("DeadLetterPage") } },
    },
    ...errorResponses,
  },
});

export function registerListDeadLetters(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const q = c.req.valid("query");
    const rows = await listDeliveries(serviceCtx(c), {
      limit: q.limit,
      cursor: q.cursor,
      endpointId: q.endpointId,
      eventType: q.eventType,
      status: "dead",
      deadSince: q.since ? new Date(q.since) : undefined,
    });
    return c.json(pageOf(rows, q.limit), 200);
  });
}
