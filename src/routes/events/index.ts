import type { OpenAPIHono } from "@hono/zod-openapi";
import { createRouter } from "../common.ts";
import type { AppEnv } from "../env.ts";
import { registerGetEvent } from "./get.ts";
import { registerListEvents } from "./list.ts";
import { registerPublishEvent } from "./publish.ts";
import { registerPublishBatch } from "./publish-batch.ts";

/** `/v1/events`: publish (one or a batch, idempotent), list, get. */
export function registerEventRoutes(app: OpenAPIHono<AppEnv>): void {
  const r = createRouter();
  registerPublishEvent(r);
  registerPublishBatch(r);
  registerListEvents(r);
  registerGetEvent(r);
  app.route("/", r);
}
