import { z } from "@hono/zod-openapi";

/** Documented request shape; the handler also reads HTTP Basic client authentication. */
export const TokenRequestBody = z
  .object({
    grant_type: z.literal("client_credentials"),
    client_id: z.string().optional().openapi({ example: "key_01JF3Z8Q4K2M6N8P0R2T4V6X8Z" }),
    client_secret: z.string().optional().openapi({ example: "sp_abcdefghijklmnop_…" }),
    scope: z
      .string()
      .optional()
      .openapi({ description: "Space-delimited; no wider than the key's scopes", example: "events:read" }),
  })
  .openapi("TokenRequest");

export const TokenResponse = z
  .object({
    access_token: z.string(),
    token_type: z.literal("Bearer"),
    expires_in: z.number().int().openapi({ example: 900 }),
    scope: z.string().openapi({ example: "endpoints:read deliveries:read" }),
  })
  .openapi("TokenResponse");

export const OAuthErrorSchema = z
  .object({
    error: z.enum([
      "invalid_request",
      "invalid_client",
      "invalid_grant",
      "unauthorized_client",
      "unsupported_grant_type",
      "invalid_scope",
    ]),
    error_description: z.string().optional(),
  })
  .openapi("OAuthError");

export const Jwks = z
  .object({ keys: z.array(z.record(z.string(), z.unknown())) })
  .openapi("JWKS", { example: { keys: [{ kty: "EC", crv: "P-256", x: "…", y: "…", kid: "sk_…" }] } });

export const RotationResponse = z
  .object({
    kid: z.string().openapi({ example: "sk_01JF3Z8Q4K2M6N8P0R2T4V6X8Z" }),
    alg: z.string().openapi({ example: "ES256" }),
    createdAt: z.iso.datetime(),
    retired: z
      .object({ kid: z.string(), expiresAt: z.iso.datetime() })
      .nullable()
      .openapi({ description: "The previous key: still published and verifying until expiresAt" }),
  })
  .openapi("SigningKeyRotation");
