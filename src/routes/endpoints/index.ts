import type { OpenAPIHono } from "@hono/zod-openapi";
import { createRouter } from "../common.ts";
import type { AppEnv } from "../env.ts";
import { registerCreateEndpoint } from "./create.ts";
import { registerDeleteEndpoint } from "./delete.ts";
import { registerGetEndpoint } from "./get.ts";
import { registerListEndpoints } from "./list.ts";
import { registerEndpointSecret } from "./secret.ts";
import { registerEndpointStats } from "./stats.ts";
import { registerSendTestEvent } from "./test-event.ts";
import { registerUpdateEndpoint } from "./update.ts";

/** `/v1/endpoints`: CRUD, secret read and rotation, test events, stats. */
export function registerEndpointRoutes(app: OpenAPIHono<AppEnv>): void {
  const r = createRouter();
  registerCreateEndpoint(r);
  registerListEndpoints(r);
  registerGetEndpoint(r);
  registerUpdateEndpoint(r);
  registerDeleteEndpoint(r);
  registerEndpointSecret(r);
  registerSendTestEvent(r);
  registerEndpointStats(r);
  app.route("/", r);
}
