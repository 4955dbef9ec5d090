import type { OpenAPIHono } from "@hono/zod-openapi";
import { registerApiKeyRoutes } from "./api-keys/index.ts";
import { registerAuditLogRoutes } from "./audit-log/index.ts";
import { registerDeadLetterRoutes } from "./dead-letters/index.ts";
import { registerDeliveryRoutes } from "./deliveries/index.ts";
import { registerEndpointRecoverRoutes } from "./endpoint-recover/index.ts";
import { registerEndpointRoutes } from "./endpoints/index.ts";
import type { AppEnv } from "./env.ts";
import { registerEventTypeRoutes } from "./event-types/index.ts";
import { registerEventRoutes } from "./events/index.ts";
import { registerOAuthPublicRoutes, registerOAuthRoutes } from "./oauth/index.ts";
import { registerSignalRoutes } from "./signals/index.ts";
import { registerTenantRoutes } from "./tenants/index.ts";

/**
 * Routes outside `/v1` that need no bearer token (OAuth token endpoint, JWKS).
 * Each resource lives in `src/routes/<resource>/` and exports a `register…` function.
 */
export function registerPublicRoutes(app: OpenAPIHono<AppEnv>): void {
  registerOAuthPublicRoutes(app);
}

/** Every `/v1` resource. Authentication has already run for these. */
export function registerV1Routes(app: OpenAPIHono<AppEnv>): void {
  registerTenantRoutes(app);
  registerApiKeyRoutes(app);
  registerEventTypeRoutes(app);
  registerEventRoutes(app);
  registerOAuthRoutes(app);
  registerAuditLogRoutes(app);
  registerSignalRoutes(app);
  registerEndpointRoutes(app);
  registerEndpointRecoverRoutes(app);
  registerDeliveryRoutes(app);
  registerDeadLetterRoutes(app);
}
