import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { rotateSigningKey } from "../../services/oauth/rotate-signing-key.ts";
import { errorResponses, guard, security, serviceCtx } from "../common.ts";
import type { AppEnv } from "../env.ts";
import { RotationResponse } from "./schema.ts";

const route = createRoute({
  method: "post",
  path: "/v1/oauth/signing-keys/rotate",
  tags: ["oauth"],
  summary: "Rotate the access-token signing key",
  description:
    "Operator only (`keys:write`). New tokens are signed with a fresh key at once; the previous key stays in the JWKS and keeps verifying until its tokens have expired.",
  security,
  middleware: [guard({ operator: true, scopes: ["keys:write"] })] as const,
  responses: {
    201: { description: "Rotated", content: { "application/json": { schema: RotationResponse } } },
    ...errorResponses,
  },
});

export function registerRotateSigningKey(r: OpenAPIHono<AppEnv>): void {
  r.openapi(route, async (c) => {
    const res = await rotateSigningKey(serviceCtx(c));
    return c.json(
      {
        kid: res.kid,
        alg: res.alg,
        createdAt: res.createdAt.toISOString(),
        retired: res.retired
          ? { kid: res.retired.kid, expiresAt: res.retired.expiresAt.toISOString() }
          : null,
      },
      201,
    );
  });
}
