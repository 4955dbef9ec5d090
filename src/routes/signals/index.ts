import type { OpenAPIHono } from "@hono/zod-openapi";
import { createRouter } from "../common.ts";
import type { AppEnv } from "../env.ts";
import { registerGetSignalState } from "./get.ts";
import { registerPutSignals } from "./update.ts";

/** `/v1/signals`: snapshots in (operator), current state out. */
export function registerSignalRoutes(app: OpenAPIHono<AppEnv>): void {
  const r = createRouter();
  registerPutSignals(r);
  registerGetSignalState(r);
  app.route("/", r);
}
