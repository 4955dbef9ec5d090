import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "./env.ts";

/**
 * Routes outside `/v1` that need no bearer token (OAuth token endpoint, JWKS).
 * Each resource lives in `src/routes/<resource>/` and exports a `register…` function.
 */
export function registerPublicRoutes(_app: OpenAPIHono<AppEnv>): void {}

/** Every `/v1` resource. Authentication has already run for these. */
export function registerV1Routes(_app: OpenAPIHono<AppEnv>): void {}
