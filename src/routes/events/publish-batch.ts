import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { publishEvents } from "../../services/events/publish.ts";
import { requestHash } from "../../services/events/request-hash.ts";
import { errorResponses, guard, security, serviceCtx, unprocessableResponse } from "../common.ts";
import type { AppEnv } from "../env.ts";
import { BatchResultSchema, IdempotencyHeaders, PublishBatchBody } from "./schema.ts";

const route = createRoute({
  method: "post",
  path: "/v1/events/batch",
  tags: ["events"],
  summary: "Publish 1–100 events, all or nothing",
  description:
    "Operator only (`events:write`). Each event is checked as in `POST /v1/events`, `data` against its type's JSON Schema included. One bad event rejects the whole batch; `errors[].path` names it (`body.events.3.type`, `body.events.3.data.symbol`).",
  security,
  middleware: [guard({ operator: true, scopes: ["events:write"] })] as const,
  request: {
    headers: IdempotencyHeaders,
    body: { required: true, content: { "application/json": { schema: PublishBatchBody } } },
  },
  responses: {
    202: {
      description: "Accepted: all stored and queued, in request order",
      content: { "application/json": { schema: BatchResultSchema } },
    },
    ...errorResponses,
    ...unprocessableResponse,
  },
});

export function registerPublishBatch(r: OpenAPIHono<AppEnv>): void {
  r.openapi(route, async (c) => {
    const body = c.req.valid("json");
    const key = c.req.valid("header")["idempotency-key"];
    const outcome = await publishEvents(serviceCtx(c), {
      events: body.events,
      shape: "batch",
      idempotency: key ? { key, requestHash: requestHash("POST", c.req.path, body) } : undefined,
    });
    if (outcome.replayed) c.header("idempotent-replayed", "true");
    return c.json(BatchResultSchema.parse(outcome.body), 202);
  });
}
