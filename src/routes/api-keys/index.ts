import type { OpenAPIHono } from "@hono/zod-openapi";
import { createRouter } from "../common.ts";
import type { AppEnv } from "../env.ts";
import { registerCreateApiKey } from "./create.ts";
import { registerGetApiKey } from "./get.ts";
import { registerListApiKeys } from "./list.ts";
import { registerRevokeApiKey } from "./revoke.ts";
import { registerRotateApiKey } from "./rotate.ts";

/** `/v1/api-keys`: create (token shown once), list, get, revoke, rotate. Tenants see only their own. */
export function registerApiKeyRoutes(app: OpenAPIHono<AppEnv>): void {
  const r = createRouter();
  registerCreateApiKey(r);
  registerListApiKeys(r);
  registerGetApiKey(r);
  registerRevokeApiKey(r);
  registerRotateApiKey(r);
  app.route("/", r);
}
