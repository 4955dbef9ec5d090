import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { retryDelivery } from "../../services/deliveries/retry.ts";
import { conflictResponse, errorResponses, guard, IdParam, security, serviceCtx } from "../common.ts";
import type { AppEnv } from "../env.ts";
import { DeliverySchema } from "./schema.ts";

const route = createRoute({
  method: "post",
  path: "/v1/deliveries/{id}/retry",
  tags: ["deliveries"],
  summary: "Retry a delivery now",
  description:
    "Starts a fresh retry cycle at once (the full schedule applies again; exhausting it dead-letters the delivery again). 409 when the endpoint is deleted or disabled. Scope `deliveries:write`.",
  security,
  middleware: [guard({ scopes: ["deliveries:write"] })] as const,
  request: { params: IdParam("dlv", "01JF3ZQ4C8M3W5V6X7Y8Z9A0B1") },
  responses: {
    202: { description: "Queued", content: { "application/json": { schema: DeliverySchema } } },
    ...errorResponses,
    ...conflictResponse,
  },
});

export function registerRetryDelivery(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => c.json(await retryDelivery(serviceCtx(c), c.req.valid("param").id), 202));
}
