import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { createEventType } from "../../services/event-types/create.ts";
import { conflictResponse, errorResponses, guard, security, serviceCtx } from "../common.ts";
import type { AppEnv } from "../env.ts";
import { CreateEventTypeBody, EventTypeSchema, toEventType } from "./schema.ts";

const route = createRoute({
  method: "post",
  path: "/v1/event-types",
  tags: ["event-types"],
  summary: "Add an event type to the catalog",
  description:
    "Operator only (`event-types:write`). Names are dotted lowercase words, like `signal.changed`. `schema` must be a usable JSON Schema draft 2020-12 (400 naming `body.schema…` otherwise) and `example` must conform to it; published `data` is validated against it.",
  security,
  middleware: [guard({ operator: true, scopes: ["event-types:write"] })] as const,
  request: { body: { required: true, content: { "application/json": { schema: CreateEventTypeBody } } } },
  responses: {
    201: { description: "Created", content: { "application/json": { schema: EventTypeSchema } } },
    ...errorResponses,
    ...conflictResponse,
  },
});

export function registerCreateEventType(r: OpenAPIHono<AppEnv>): void {
  r.openapi(route, async (c) => {
    const type = await createEventType(serviceCtx(c), c.req.valid("json"));
    return c.json(toEventType(type), 201);
  });
}
