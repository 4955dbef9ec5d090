import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { listEventTypes } from "../../services/event-types/list.ts";
import { errorResponses, security, serviceCtx } from "../common.ts";
import type { AppEnv } from "../env.ts";
import { EventTypeListQuery, EventTypePage, eventTypePage } from "./schema.ts";

const route = createRoute({
  method: "get",
  path: "/v1/event-types",
  tags: ["event-types"],
  summary: "List the event type catalog, with a JSON Schema and an example of each",
  description: "Open to every authenticated caller. Ordered by name; the cursor is the last name seen.",
  security,
  request: { query: EventTypeListQuery },
  responses: {
    200: { description: "A page of event types", content: { "application/json": { schema: EventTypePage } } },
    ...errorResponses,
  },
});

export function registerListEventTypes(r: OpenAPIHono<AppEnv>): void {
  r.openapi(route, async (c) => {
    const q = c.req.valid("query");
    return c.json(eventTypePage(await listEventTypes(serviceCtx(c), q), q.limit), 200);
  });
}
