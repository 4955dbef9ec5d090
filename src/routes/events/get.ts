import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { getEvent } from "../../services/events/get.ts";
import { errorResponses, guard, IdParam, security, serviceCtx } from "../common.ts";
import type { AppEnv } from "../env.ts";
import { EventSchema, toEvent } from "./schema.ts";

const route = createRoute({
  method: "get",
  path: "/v1/events/{id}",
  tags: ["events"],
  summary: "Get an event with its data",
  security,
  middleware: [guard({ scopes: ["events:read"] })] as const,
  request: { params: IdParam("evt", "01JF3Z8Q4K2M6N8P0R2T4V6X8Z") },
  responses: {
    200: { description: "The event", content: { "application/json": { schema: EventSchema } } },
    ...errorResponses,
  },
});

export function registerGetEvent(r: OpenAPIHono<AppEnv>): void {
  r.openapi(route, async (c) => {
    const event = await getEvent(serviceCtx(c), c.req.valid("param").id);
    return c.json(toEvent(event), 200);
  });
}
