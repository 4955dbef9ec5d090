import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { deprecateEventType } from "../../services/event-types/deprecate.ts";
import { errorResponses, guard, security, serviceCtx } from "../common.ts";
import type { AppEnv } from "../env.ts";
import { EventTypeNameParam, EventTypeSchema, toEventType } from "./schema.ts";

const route = createRoute({
  method: "post",
  path: "/v1/event-types/{name}/deprecate",
  tags: ["event-types"],
  summary: "Deprecate an event type: publishing it is refused from now on",
  description:
    "Operator only (`event-types:write`). Idempotent. Built-in types stay deprecated across upgrades.",
  security,
  middleware: [guard({ operator: true, scopes: ["event-types:write"] })] as const,
  request: { params: EventTypeNameParam },
  responses: {
    200: { description: "The deprecated type", content: { "application/json": { schema: EventTypeSchema } } },
    ...errorResponses,
  },
});

export function registerDeprecateEventType(r: OpenAPIHono<AppEnv>): void {
  r.openapi(route, async (c) => {
    const type = await deprecateEventType(serviceCtx(c), c.req.valid("param").name);
    return c.json(toEventType(type), 200);
  });
}
