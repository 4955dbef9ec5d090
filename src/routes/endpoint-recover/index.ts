import type { OpenAPIHono } from "@hono/zod-openapi";
import { createRouter } from "../common.ts";
import type { AppEnv } from "../env.ts";
import { registerStartRecovery } from "./create.ts";
import { registerGetRecovery } from "./get.ts";

/** `/v1/endpoints/{id}/recover`: re-send an endpoint's failed deliveries since a time, as a job. */
export function registerEndpointRecoverRoutes(app: OpenAPIHono<AppEnv>): void {
  const r = createRouter();
  registerStartRecovery(r);
  registerGetRecovery(r);
  app.route("/", r);
}
