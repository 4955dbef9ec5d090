import type { OpenAPIHono } from "@hono/zod-openapi";
import { createRouter } from "../common.ts";
import type { AppEnv } from "../env.ts";
import { registerGetDelivery } from "./get.ts";
import { registerListDeliveries } from "./list.ts";
import { registerRetryDelivery } from "./retry.ts";

/** `/v1/deliveries`: the delivery log (with attempts) and "retry now". */
export function registerDeliveryRoutes(app: OpenAPIHono<AppEnv>): void {
  const r = createRouter();
  registerListDeliveries(r);
  registerGetDelivery(r);
  registerRetryDelivery(r);
  app.route("/", r);
}
