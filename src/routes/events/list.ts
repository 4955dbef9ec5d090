import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { listEvents } from "../../services/events/list.ts";
import { errorResponses, guard, pageOf, security, serviceCtx } from "../common.ts";
import type { AppEnv } from "../env.ts";
import { EventListQuery, EventPage, toEvent } from "./schema.ts";

const route = createRoute({
  method: "get",
  path: "/v1/events",
  tags: ["events"],
  summary: "List events, newest first",
  description:
    "Operators see every event. A tenant sees events addressed to it and events delivered to one of its endpoints.",
  security,
  middleware: [guard({ scopes: ["events:read"] })] as const,
  request: { query: EventListQuery },
  responses: {
    200: { description: "A page of events", content: { "application/json": { schema: EventPage } } },
    ...errorResponses,
  },
});

export function registerListEvents(r: OpenAPIHono<AppEnv>): void {
  r.openapi(route, async (c) => {
    const q = c.req.valid("query");
    const page = pageOf(await listEvents(serviceCtx(c), q), q.limit);
    return c.json({ ...page, data: page.data.map(toEvent) }, 200);
  });
}
