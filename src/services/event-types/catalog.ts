/**
 * The built-in event types. Seeded (upserted) after every migration run, so a new release can
 * improve a description or schema; an operator's deprecation of a built-in type is kept.
 * Schemas describe the `data` member of the envelope, as JSON Schema draft 2020-12.
 */

export type CatalogEntry = {
  name: string;
  description: string;
  schema: Record<string, unknown>;
  example: Record<string, unknown>;
};

const DRAFT = "https://json-schema.org/draft/2020-12/schema";

const signalValue = { type: "string", enum: ["bullish", "bearish", "neutral"] };
const signalSide = {
  type: "object",
  required: ["value"],
  properties: { value: signalValue, score: { type: "number" } },
};
const gradeSide = {
  type: "object",
  required: ["score", "label"],
  properties: {
    score: { type: "number" },
    label: { type: "string" },
    components: { type: "object", additionalProperties: { type: "number" } },
  },
};
const observedAt = { type: "string", format: "date-time", description: "When the source observed the value" };
const source = {
  type: "string",
  description: "Where the snapshot came from (`api`, `upstream`, `replay`, …)",
};

const gradeSchema = (direction: "up" | "down") => ({
  $schema: DRAFT,
  title: direction === "up" ? "grade.upgraded data" : "grade.downgraded data",
  type: "object",
  required: ["symbol", "kind", "previous", "current", "observedAt", "source"],
  properties: {
    symbol: { type: "string" },
    kind: {
      type: "string",
      description: "`tm_grade`, `fundamental_grade`, or another grade kind",
      examples: ["tm_grade", "fundamental_grade"],
    },
    previous: gradeSide,
    current: gradeSide,
    observedAt,
    source,
  },
});

export const EVENT_CATALOG: readonly CatalogEntry[] = [
  {
    name: "signal.changed",
    description:
      "A symbol's trading signal flipped between bullish, bearish and neutral on a daily (`1d`) or hourly (`1h`) timeframe.",
    schema: {
      $schema: DRAFT,
      title: "signal.changed data",
      type: "object",
      required: ["symbol", "kind", "timeframe", "previous", "current", "observedAt", "source"],
      properties: {
        symbol: { type: "string" },
        kind: { const: "trading_signal" },
        timeframe: { type: "string", enum: ["1d", "1h"] },
        previous: signalSide,
        current: signalSide,
        observedAt,
        source,
      },
    },
    example: {
      symbol: "BTC",
      kind: "trading_signal",
      timeframe: "1d",
      previous: { value: "bearish", score: -1 },
      current: { value: "bullish", score: 1 },
      observedAt: "2026-12-03T00:00:00Z",
      source: "upstream",
    },
  },
  {
    name: "grade.upgraded",
    description:
      "A grade (`tm_grade`, `fundamental_grade`, …) moved to a better label, or its score rose by at least the configured threshold.",
    schema: gradeSchema("up"),
    example: {
      symbol: "ETH",
      kind: "tm_grade",
      previous: { score: 61.2, label: "neutral" },
      current: { score: 74.8, label: "bullish", components: { technology: 80, fundamental: 70 } },
      observedAt: "2026-12-03T00:00:00Z",
      source: "upstream",
    },
  },
  {
    name: "grade.downgraded",
    description:
      "A grade (`tm_grade`, `fundamental_grade`, …) moved to a worse label, or its score fell by at least the configured threshold.",
    schema: gradeSchema("down"),
    example: {
      symbol: "SOL",
      kind: "fundamental_grade",
      previous: { score: 72, label: "strong" },
      current: { score: 58, label: "average" },
      observedAt: "2026-12-03T00:00:00Z",
      source: "api",
    },
  },
  {
    name: "webhook.test",
    description:
      "Sent by “send test event” on an endpoint, to check that the receiver verifies and answers 2xx.",
    schema: {
      $schema: DRAFT,
      title: "webhook.test data",
      type: "object",
      required: ["endpointId", "message"],
      properties: { endpointId: { type: "string" }, message: { type: "string" } },
    },
    example: { endpointId: "ep_01JF3Z8Q4K2M6N8P0R2T4V6X8Z", message: "Hello from Signalpost" },
  },
  {
    name: "endpoint.disabled",
    description:
      "Operational: an endpoint was disabled, because it answered 410 Gone or kept failing for too long.",
    schema: {
      $schema: DRAFT,
      title: "endpoint.disabled data",
      type: "object",
      required: ["endpointId", "reason"],
      properties: {
        endpointId: { type: "string" },
        reason: { type: "string" },
        failingSince: { type: "string", format: "date-time" },
      },
    },
    example: {
      endpointId: "ep_01JF3Z8Q4K2M6N8P0R2T4V6X8Z",
      reason: "failing continuously for 5 days",
      failingSince: "2026-11-28T09:14:00Z",
    },
  },
];

export const BUILT_IN_EVENT_TYPES: ReadonlySet<string> = new Set(EVENT_CATALOG.map((e) => e.name));
