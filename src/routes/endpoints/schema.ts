import { z } from "@hono/zod-openapi";
import { HEADER_NAME_RE, HEADER_VALUE_RE, isReservedHeader } from "../../delivery/headers.ts";
import { SYMBOL_RE } from "../../detector/snapshot.ts";
import { pageQuery, plainLine, plainText, storable } from "../common.ts";

/** Longest accepted endpoint URL. */
export const MAX_URL_LENGTH = 2048;
/** Most custom headers per endpoint. */
export const MAX_HEADERS = 20;
/** Longest retry-schedule override (delays after the first try). */
export const MAX_RETRY_DELAYS = 20;
/** Longest single retry delay: one day, in ms. */
export const MAX_RETRY_DELAY_MS = 86_400_000;

const EVENT_TYPE_RE = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*(\.\*)?$/;
const SECRET_RE = /^whsec_[A-Za-z0-9+/]+={0,2}$/;

const Url = plainLine(
  z.string().min(1, "must not be empty").max(MAX_URL_LENGTH, `must be at most ${MAX_URL_LENGTH} characters`),
).openapi({ example: "https://partner.example.com/webhooks/signalpost" });

const EventTypes = z
  .array(
    z
      .string()
      .max(200)
      .regex(EVENT_TYPE_RE, "must be an event type name (signal.changed) or a prefix wildcard (grade.*)"),
  )
  .min(1, "must list at least one event type; omit it (or send null) to receive every type")
  .max(100)
  .openapi({ example: ["signal.changed", "grade.*"] });

const Symbols = z
  // The symbols signals and grades accept, so every symbol the detector emits can be subscribed to.
  .array(z.string().regex(SYMBOL_RE, "must be a symbol: 1–32 letters, digits or . _ : / - (BTC, BTC/USD)"))
  .min(1, "must list at least one symbol; omit it (or send null) to receive every symbol")
  .max(1000)
  .transform((list) => [...new Set(list.map((s) => s.toUpperCase()))])
  .openapi({ example: ["BTC", "ETH"] });

/** Custom headers sent with every delivery. Names are case-insensitive and stored lower-case. */
const Headers = z
  .record(z.string(), z.string())
  .superRefine((headers, ctx) => {
    const names = Object.keys(headers);
    if (names.length > MAX_HEADERS)
      ctx.addIssue({ code: "custom", message: `at most ${MAX_HEADERS} custom headers are allowed` });
    const seen = new Set<string>();
    for (const [name, value] of Object.entries(headers)) {
      const lower = name.toLowerCase();
      if (!HEADER_NAME_RE.test(name))
        ctx.addIssue({ code: "custom", path: [name], message: "is not a valid header name" });
      else if (isReservedHeader(name))
        ctx.addIssue({
          code: "custom",
          path: [name],
          message: "is reserved: signing and transport headers cannot be overridden",
        });
      else if (seen.has(lower))
        ctx.addIssue({ code: "custom", path: [name], message: "is given twice (header names ignore case)" });
      if (!HEADER_VALUE_RE.test(value))
        ctx.addIssue({
          code: "custom",
          path: [name],
          message: "header values must be printable ASCII without CR/LF, at most 1000 characters",
        });
      seen.add(lower);
    }
  })
  .transform((headers) => Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v])))
  .openapi({
    description: `Up to ${MAX_HEADERS} headers added to every delivery. Values of sensitive names (authorization, *-key, *-token, *-secret) are masked when read back; sending the mask back in an update keeps the stored value.`,
    example: { "x-partner-id": "acme" },
  });

const Metadata = z
  .record(plainLine(z.string().min(1).max(100)), plainLine(z.string().max(1000)))
  .refine((m) => Object.keys(m).length <= 50, "at most 50 metadata keys are allowed")
  .openapi({ example: { team: "quant" } });

/** Free text shown back to the tenant; tabs and line breaks allowed. */
const Description = plainText(z.string().max(500));

const RetrySchedule = z
  .array(z.number().int().min(0).max(MAX_RETRY_DELAY_MS))
  .max(MAX_RETRY_DELAYS)
  .openapi({
    description: `Delays in ms after the first try, replacing the default schedule; [] = no retries. At most ${MAX_RETRY_DELAYS} delays of at most one day each.`,
    example: [5000, 300000, 1800000],
  });

/** A caller-chosen signing secret: `whsec_` + base64 of 24–64 bytes. */
export const SecretInput = z
  .string()
  .regex(SECRET_RE, "must be whsec_ followed by base64")
  .refine((s) => {
    const n = Buffer.from(s.slice(6), "base64").length;
    return n >= 24 && n <= 64;
  }, "must encode between 24 and 64 bytes")
  .openapi({ example: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" });

const SignatureScheme = z.enum(["v1", "v1a"]).openapi({
  description:
    "How deliveries are signed: `v1` HMAC-SHA256 with a `whsec_` secret (default), or `v1a` ed25519 — Signalpost keeps the `whsk_` secret key and gives you the `whpk_` public key.",
  example: "v1a",
});

const Limits = {
  rateLimitPerSecond: z.number().int().min(1).max(1000).openapi({ example: 50 }),
  maxConcurrency: z.number().int().min(1).max(64).openapi({ example: 8 }),
};

/** Fields create and update share, so the two bodies cannot drift apart. */
const settableFields = {
  description: Description.optional(),
  eventTypes: EventTypes.nullable().optional(),
  symbols: Symbols.nullable().optional(),
  headers: Headers.optional(),
  metadata: Metadata.optional(),
  disabled: z.boolean().optional(),
  rateLimitPerSecond: Limits.rateLimitPerSecond.nullable().optional(),
  maxConcurrency: Limits.maxConcurrency.nullable().optional(),
  retrySchedule: RetrySchedule.nullable().optional(),
};

export const CreateEndpointBody = z
  .strictObject({
    tenantId: storable(z.string().max(64)).optional().openapi({
      description:
        "Operator only: the tenant that owns the endpoint. Tenant keys create for their own tenant.",
    }),
    url: Url,
    ...settableFields,
    secret: SecretInput.optional().openapi({ description: "A caller-chosen `whsec_` secret (v1 only)" }),
    signatureScheme: SignatureScheme.optional(),
  })
  .openapi("CreateEndpoint");
export type CreateEndpointBody = z.infer<typeof CreateEndpointBody>;

export const UpdateEndpointBody = z
  .strictObject({
    url: Url.optional(),
    ...settableFields,
    signatureScheme: SignatureScheme.optional().openapi({
      description:
        "Switching scheme generates a key of the new scheme (read it with GET /v1/endpoints/{id}/secret); the old keys keep signing for 24 h. The same scheme again changes nothing.",
    }),
  })
  .refine((b) => Object.keys(b).length > 0, {
    message: "send at least one field to change",
    // Only for an otherwise valid body: `{"secret": …}` should read as an unknown field, not as empty.
    when: (payload) => payload.issues.length === 0,
  })
  .openapi("UpdateEndpoint");
export type UpdateEndpointBody = z.infer<typeof UpdateEndpointBody>;

export const EndpointSchema = z
  .object({
    id: z.string().openapi({ example: "ep_01JF3ZQ4C8M3W5V6X7Y8Z9A0B1" }),
    tenantId: z.string(),
    url: z.string(),
    description: z.string(),
    eventTypes: z.array(z.string()).nullable().openapi({ description: "null = every event type" }),
    symbols: z.array(z.string()).nullable().openapi({ description: "null = every symbol" }),
    headers: z.record(z.string(), z.string()),
    metadata: z.record(z.string(), z.string()),
    disabled: z.boolean(),
    disabledReason: z.string().nullable(),
    rateLimitPerSecond: z.number().int().nullable(),
    maxConcurrency: z.number().int().nullable(),
    retrySchedule: z
      .array(z.number().int())
      .nullable()
      .openapi({ description: "null = the default schedule" }),
    failingSince: z.string().nullable(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi("Endpoint");

export const EndpointWithSecretSchema = EndpointSchema.extend({
  secret: z.string().openapi({
    description:
      "What the receiver verifies with: the `whsec_` signing secret (v1) or the `whpk_` ed25519 public key (v1a; the secret key never leaves Signalpost). Read it again with GET /v1/endpoints/{id}/secret.",
    example: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
  }),
}).openapi("EndpointWithSecret");

export const ListEndpointsQuery = pageQuery("ep").extend({
  disabled: z
    .enum(["true", "false"])
    .optional()
    .transform((v) => (v === undefined ? undefined : v === "true")),
  tenantId: z.string().max(64).optional().openapi({ description: "Operator only: one tenant's endpoints" }),
});

export const SecretSchema = z
  .object({
    secret: z.string().openapi({
      description: "The `whsec_` secret (v1), or the `whpk_` public key (v1a)",
      example: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    }),
    createdAt: z.string(),
    previous: z
      .array(z.object({ expiresAt: z.string(), createdAt: z.string() }))
      .openapi({ description: "Rotated-out secrets still signing until expiresAt (values not shown)" }),
  })
  .openapi("EndpointSecret");

export const RotateSecretBody = z
  .strictObject({
    gracePeriodSeconds: z
      .number()
      .int()
      .min(0)
      .max(604_800)
      .optional()
      .openapi({ description: "How long the old secret keeps signing. Default 24 h, at most 7 days." }),
    secret: SecretInput.optional().openapi({
      description: "A caller-chosen `whsec_` secret (v1 endpoints only)",
    }),
  })
  .openapi("RotateSecret");

export const RotatedSecretSchema = z
  .object({
    secret: z.string().openapi({
      description: "The new `whsec_` secret (v1), or the new key pair's `whpk_` public key (v1a)",
    }),
    createdAt: z.string(),
    previousExpiresAt: z
      .string()
      .nullable()
      .openapi({ description: "When the replaced secret stops signing" }),
  })
  .openapi("RotatedSecret");

export const SendTestBody = z
  .strictObject({
    eventType: z
      .string()
      .max(200)
      .regex(/^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$/, "must be an event type name")
      .optional()
      .openapi({ description: "Default webhook.test" }),
  })
  .openapi("SendTestEvent");

export const SentTestSchema = z
  .object({ eventId: z.string(), deliveryId: z.string() })
  .openapi("SentTestEvent");

export const StatsQuery = z.object({
  since: z.iso
    .datetime({ offset: true })
    .optional()
    .openapi({ description: "Start of the window (ISO 8601). Default: 24 h ago." }),
});

const Latency = z.number().nullable();
export const StatsSchema = z
  .object({
    endpointId: z.string(),
    since: z.string(),
    until: z.string(),
    deliveries: z.object({
      pending: z.number().int(),
      succeeded: z.number().int(),
      dead: z.number().int(),
      cancelled: z.number().int(),
    }),
    attempts: z.object({
      total: z.number().int(),
      succeeded: z.number().int(),
      failed: z.number().int(),
      blocked: z.number().int(),
    }),
    latencyMs: z.object({ p50: Latency, p95: Latency, p99: Latency }),
  })
  .openapi("EndpointStats");
