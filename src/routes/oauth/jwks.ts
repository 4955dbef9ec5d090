import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { publishedKeys } from "../../services/oauth/signing-keys.ts";
import type { AppEnv } from "../env.ts";
import { Jwks } from "./schema.ts";

const route = createRoute({
  method: "get",
  path: "/.well-known/jwks.json",
  tags: ["oauth"],
  summary: "Public keys that verify access tokens",
  description:
    "The current signing key and every retired one whose tokens may still be valid. Verifiers that see an unknown `kid` should refetch.",
  responses: {
    200: { description: "A JSON Web Key Set", content: { "application/json": { schema: Jwks } } },
  },
});

export function registerJwks(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const keys = await publishedKeys(c.get("deps"));
    return c.json({ keys }, 200, { "cache-control": "public, max-age=60" });
  });
}
