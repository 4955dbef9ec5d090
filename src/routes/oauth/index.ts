import type { OpenAPIHono } from "@hono/zod-openapi";
import { createRouter } from "../common.ts";
import type { AppEnv } from "../env.ts";
import { registerJwks } from "./jwks.ts";
import { registerRotateSigningKey } from "./rotate.ts";
import { registerToken } from "./token.ts";

/** `POST /oauth/token` and `GET /.well-known/jwks.json`: public, no bearer token. */
export function registerOAuthPublicRoutes(app: OpenAPIHono<AppEnv>): void {
  registerToken(app);
  registerJwks(app);
}

/** `/v1/oauth/…`: operator management of the signing keys. */
export function registerOAuthRoutes(app: OpenAPIHono<AppEnv>): void {
  const r = createRouter();
  registerRotateSigningKey(r);
  app.route("/", r);
}
