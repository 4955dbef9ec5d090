import type { OpenAPIHono } from "@hono/zod-openapi";
import { createRouter } from "../common.ts";
import type { AppEnv } from "../env.ts";
import { registerListAuditLog } from "./list.ts";

/** `/v1/audit-log`: the read side of the audit trail. */
export function registerAuditLogRoutes(app: OpenAPIHono<AppEnv>): void {
  const r = createRouter();
  registerListAuditLog(r);
  app.route("/", r);
}
