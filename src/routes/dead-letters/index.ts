import type { OpenAPIHono } from "@hono/zod-openapi";
import { createRouter } from "../common.ts";
import type { AppEnv } from "../env.ts";
import { registerListDeadLetters } from "./list.ts";
import { registerRedrive } from "./redrive.ts";

/** `/v1/dead-letters`: deliveries that gave up, and bulk redrive. */
export function registerDeadLetterRoutes(app: OpenAPIHono<AppEnv>): void {
  const r = createRouter();
  registerListDeadLetters(r);
  registerRedrive(r);
  app.route("/", r);
}
