import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { getEventType } from "../../services/event-types/get.ts";
import { errorResponses, security, serviceCtx } from "../common.ts";
import type { AppEnv } from "../env.ts";
import { EventTypeNameParam, EventTypeSchema, toEventType } from "./schema.ts";

const route = createRoute({
  method: "get",
  path: "/v1/event-types/{name}",
  tags: ["event-types"],
  summary: "Get one event type (deprecated ones too)",
  security,
  request: { params: EventTypeNameParam },
  responses: {
    200: { description: "The event type", content: { "application/json": { schema: EventTypeSchema } } },
    ...errorResponses,
  },
});

export function registerGetEventType(r: OpenAPIHono<AppEnv>): void {
  r.openapi(route, async (c) => {
    const type = await getEventType(serviceCtx(c), c.req.valid("param").name);
    return c.json(toEventType(type), 200);
  });
}
