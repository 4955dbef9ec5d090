import type { OpenAPIHono } from "@hono/zod-openapi";
import { createRouter } from "../common.ts";
import type { AppEnv } from "../env.ts";
import { registerCreateTenant } from "./create.ts";
import { registerDeleteTenant } from "./delete.ts";
import { registerGetTenant } from "./get.ts";
import { registerListTenants } from "./list.ts";
import { registerUpdateTenant } from "./update.ts";

/** `/v1/tenants`: operator-only tenant management. */
export function registerTenantRoutes(app: OpenAPIHono<AppEnv>): void {
  const r = createRouter();
  registerCreateTenant(r);
  registerListTenants(r);
  registerGetTenant(r);
  registerUpdateTenant(r);
  registerDeleteTenant(r);
  app.route("/", r);
}
