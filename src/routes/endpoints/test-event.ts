import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { sendTestEvent } from "../../services/endpoints/send-test.ts";
import {
  conflictResponse,
  errorResponses,
  guard,
  IdParam,
  security,
  serviceCtx,
  unprocessableResponse,
} from "../common.ts";
import type { AppEnv } from "../env.ts";
import { SendTestBody, SentTestSchema } from "./schema.ts";

const route = createRoute({
  method: "post",
  path: "/v1/endpoints/{id}/test",
  tags: ["endpoints"],
  summary: "Send a test event to this endpoint only",
  description:
    "Creates a `webhook.test` event (or the named type, with its catalog example) and one delivery to this endpoint. Scope `endpoints:write`.",
  security,
  middleware: [guard({ scopes: ["endpoints:write"] })] as const,
  request: {
    params: IdParam("ep", "01JF3ZQ4C8M3W5V6X7Y8Z9A0B1"),
    body: { required: false, content: { "application/json": { schema: SendTestBody } } },
  },
  responses: {
    202: { description: "Queued", content: { "application/json": { schema: SentTestSchema } } },
    ...errorResponses,
    ...conflictResponse,
    ...unprocessableResponse,
  },
});

export function registerSendTestEvent(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const sent = await sendTestEvent(serviceCtx(c), c.req.valid("param").id, c.req.valid("json"));
    return c.json(sent, 202);
  });
}
