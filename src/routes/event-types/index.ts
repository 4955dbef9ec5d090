import type { OpenAPIHono } from "@hono/zod-openapi";
import { createRouter } from "../common.ts";
import type { AppEnv } from "../env.ts";
import { registerCreateEventType } from "./create.ts";
import { registerDeprecateEventType } from "./deprecate.ts";
import { registerGetEventType } from "./get.ts";
import { registerListEventTypes } from "./list.ts";

/** `/v1/event-types`: the catalog (everyone reads; the operator adds and deprecates). */
export function registerEventTypeRoutes(app: OpenAPIHono<AppEnv>): void {
  const r = createRouter();
  registerListEventTypes(r);
  registerGetEventType(r);
  registerCreateEventType(r);
  registerDeprecateEventType(r);
  app.route("/", r);
}
