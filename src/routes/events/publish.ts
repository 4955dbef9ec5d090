import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { publishEvents } from "../../services/events/publish.ts";
import { requestHash } from "../../services/events/request-hash.ts";
import { errorResponses, guard, security, serviceCtx, unprocessableResponse } from "../common.ts";
import type { AppEnv } from "../env.ts";
import { EventSummarySchema, IdempotencyHeaders, PublishEventBody } from "./schema.ts";

const route = createRoute({
  method: "post",
  path: "/v1/events",
  tags: ["events"],
  summary: "Publish an event",
  description:
    "Operator only (`events:write`). Stores the event and enqueues its fan-out in one transaction; every subscribed endpoint (of `tenantId`, or of every tenant) gets a signed delivery. Unknown or deprecated types and unknown tenants are a 422 naming the field; so is `data` that does not match the type's JSON Schema (draft 2020-12, see `/v1/event-types`), with one error per bad path (`body.data.current.value`).",
  security,
  middleware: [guard({ operator: true, scopes: ["events:write"] })] as const,
  request: {
    headers: IdempotencyHeaders,
    body: { required: true, content: { "application/json": { schema: PublishEventBody } } },
  },
  responses: {
    202: {
      description: "Accepted: stored and queued for delivery",
      content: { "application/json": { schema: EventSummarySchema } },
    },
    ...errorResponses,
    ...unprocessableResponse,
  },
});

export function registerPublishEvent(r: OpenAPIHono<AppEnv>): void {
  r.openapi(route, async (c) => {
    const body = c.req.valid("json");
    const key = c.req.valid("header")["idempotency-key"];
    const outcome = await publishEvents(serviceCtx(c), {
      events: [body],
      shape: "single",
      idempotency: key ? { key, requestHash: requestHash("POST", c.req.path, body) } : undefined,
    });
    if (outcome.replayed) c.header("idempotent-replayed", "true");
    // Parsing also fixes the key order, so a replay (stored as jsonb) is byte-identical to the first answer.
    return c.json(EventSummarySchema.parse(outcome.body), 202);
  });
}
