import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { getDelivery, listAttempts } from "../../services/deliveries/get.ts";
import { errorResponses, guard, IdParam, security, serviceCtx } from "../common.ts";
import type { AppEnv } from "../env.ts";
import { AttemptSchema, DeliveryWithAttemptsSchema } from "./schema.ts";

const params = IdParam("dlv", "01JF3ZQ4C8M3W5V6X7Y8Z9A0B1");

const getRoute = createRoute({
  method: "get",
  path: "/v1/deliveries/{id}",
  tags: ["deliveries"],
  summary: "Get a delivery with all its attempts",
  description: "Attempts in order. Scope `deliveries:read`.",
  security,
  middleware: [guard({ scopes: ["deliveries:read"] })] as const,
  request: { params },
  responses: {
    200: {
      description: "The delivery",
      content: { "application/json": { schema: DeliveryWithAttemptsSchema } },
    },
    ...errorResponses,
  },
});

const attemptsRoute = createRoute({
  method: "get",
  path: "/v1/deliveries/{id}/attempts",
  tags: ["deliveries"],
  summary: "List a delivery's attempts",
  description: "In order. Scope `deliveries:read`.",
  security,
  middleware: [guard({ scopes: ["deliveries:read"] })] as const,
  request: { params },
  responses: {
    200: {
      description: "The attempts",
      content: { "application/json": { schema: z.object({ data: z.array(AttemptSchema) }) } },
    },
    ...errorResponses,
  },
});

export function registerGetDelivery(app: OpenAPIHono<AppEnv>): void {
  app.openapi(getRoute, async (c) => c.json(await getDelivery(serviceCtx(c), c.req.valid("param").id), 200));
  app.openapi(attemptsRoute, async (c) =>
    c.json({ data: await listAttempts(serviceCtx(c), c.req.valid("param").id) }, 200),
  );
}
