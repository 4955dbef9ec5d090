import { and, eq, inArray } from "drizzle-orm";
import type { Tx } from "../../../db/client.ts";
import { list, perRowCount, run } from "../../../db/raw.ts";
import { eventTypes, idempotencyKeys } from "../../../db/schema/index.ts";
import { StaleCandidates } from "../../delivery/fanout.ts";
import { ApiError, type FieldError } from "../../errors/index.ts";
import { newId } from "../../lib/ids.ts";
import { type AuditInput, recordAudit } from "../audit/record.ts";
import type { ServiceCtx } from "../context.ts";
import { eventDataErrors, isUncompilableSchema } from "../event-types/data-schema.ts";
import { envelope, insertEvents, type NewEvent, type StoredEvent } from "./insert.ts";

export type PublishEventInput = {
  type: string;
  data: Record<string, unknown>;
  tenantId?: string | undefined;
  symbol?: string | undefined;
  /** ISO 8601 event time; default now. */
  timestamp?: string | undefined;
};

export type PublishRequest = {
  events: readonly PublishEventInput[];
  /** `single` answers with the event, `batch` with `{ data: [...] }`; also sets the error paths. */
  shape: "single" | "batch";
  idempotency?: { key: string; requestHash: string } | undefined;
};

/** The HTTP answer, as stored for `Idempotency-Key` replays. */
export type PublishOutcome = { status: number; body: unknown; replayed: boolean };

export type EventSummary = {
  id: string;
  type: string;
  tenantId: string | null;
  symbol: string | null;
  timestamp: string;
  createdAt: string;
};

/**
 * Publishes one event or a batch, all or nothing, with fan-out enqueued in the same transaction.
 *
 * `Idempotency-Key`: inside the one transaction the key row is inserted first with ON CONFLICT DO
 * NOTHING. A concurrent duplicate blocks on the primary key until the first commits, then finds the
 * row and replays its stored answer; if the first rolls back, the duplicate proceeds as the first.
 * Failed requests store nothing, so a corrected retry may reuse the key.
 */
export async function publishEvents(ctx: ServiceCtx, req: PublishRequest): Promise<PublishOutcome> {
  try {
    return await publishOnce(ctx, req, true);
  } catch (err) {
    // The tenant's endpoints changed since this process cached them: everything was rolled back;
    // once more, reading them (the stale entry is gone).
    if (!(err instanceof StaleCandidates)) throw err;
    return publishOnce(ctx, req, false);
  }
}

async function publishOnce(
  ctx: ServiceCtx,
  req: PublishRequest,
  cachedEndpoints: boolean,
): Promise<PublishOutcome> {
  const { deps } = ctx;
  const now = deps.now();
  const at = (i: number, field: string) =>
    req.shape === "single" ? `body.${field}` : `body.events.${i}.${field}`;
  const prepared: NewEvent[] = req.events.map((e) => ({
    type: e.type,
    data: e.data,
    tenantId: e.tenantId ?? null,
    symbol: e.symbol ?? symbolFromData(e.data),
    occurredAt: e.timestamp ? new Date(e.timestamp) : now,
  }));
  checkPayloadSizes(prepared, deps.config.MAX_PAYLOAD_BYTES, at);
  checkSymbolsAgree(req.events, at);

  return deps.db.transaction(async (tx) => {
    if (req.idempotency) {
      const replay = await claimIdempotencyKey(tx, ctx.principal.keyId, req.idempotency);
      if (replay) return replay;
    }
    const tenantIds = [...new Set(req.events.flatMap((e) => (e.tenantId ? [e.tenantId] : [])))];
    await checkTypesAndData(deps, tx, req.events, tenantIds, at);
    // Ids chosen here so the audit row goes out in the same round trips as the events.
    const withIds = prepared.map((e) => ({ ...e, id: newId("evt") }));
    const first = withIds[0];
    const audit: AuditInput =
      req.shape === "single" && first
        ? {
            action: "event.publish",
            targetType: "event",
            targetId: first.id,
            tenantId: first.tenantId ?? null,
            details: { type: first.type, symbol: first.symbol ?? null },
          }
        : {
            action: "event.publish_batch",
            targetType: "event",
            targetId: null,
            tenantId: null,
            details: { count: withIds.length, eventIds: withIds.map((e) => e.id) },
          };
    // The tenants' liveness check (FOR SHARE: a concurrent delete waits for this commit) goes out
    // first, in the same round trip as the inserts; when it fails, the transaction is rolled back.
    const [live, inserted, audited] = await Promise.allSettled([
      liveTenants(tx, tenantIds),
      insertEvents(deps, tx, withIds, { cachedEndpoints }),
      recordAudit(tx, ctx, audit),
    ]);
    if (live.status === "rejected") throw live.reason;
    const missing = tenantIds.filter((id) => !live.value.has(id));
    if (missing.length)
      throw new ApiError("unprocessable", UNKNOWN_REFERENCES, {
        errors: tenantErrors(req.events, missing, at),
      });
    if (inserted.status === "rejected") throw inserted.reason;
    if (audited.status === "rejected") throw audited.reason;
    const stored = inserted.value;
    const summaries = stored.map(toSummary);
    const body = req.shape === "single" ? summaries[0] : { data: summaries };
    if (req.idempotency) {
      await tx
        .update(idempotencyKeys)
        .set({ responseStatus: 202, responseBody: body })
        .where(
          and(eq(idempotencyKeys.scope, ctx.principal.keyId), eq(idempotencyKeys.key, req.idempotency.key)),
        );
    }
    return { status: 202, body, replayed: false };
  });
}

export function toSummary(e: StoredEvent): EventSummary {
  return {
    id: e.id,
    type: e.type,
    tenantId: e.tenantId,
    symbol: e.symbol,
    timestamp: e.occurredAt.toISOString(),
    createdAt: e.createdAt.toISOString(),
  };
}

/**
 * Events about one symbol carry it in `data.symbol`; endpoint symbol filters need it on the row.
 * One with control characters (a NUL cannot even be stored in a text column) is not a symbol.
 */
function symbolFromData(data: Record<string, unknown>): string | null {
  const s = data.symbol;
  return typeof s === "string" && s.length > 0 && s.length <= 64 && !/\p{Cc}/u.test(s) ? s : null;
}

/**
 * A top-level `symbol` that contradicts `data.symbol` would route the event by one symbol while
 * it talks about another (an ETH subscriber missing an ETH event): refused, naming both fields.
 */
function checkSymbolsAgree(
  events: readonly { symbol?: string | null | undefined; data: Record<string, unknown> }[],
  at: (i: number, field: string) => string,
): void {
  const errors: FieldError[] = [];
  events.forEach((e, i) => {
    const inData = symbolFromData(e.data);
    if (e.symbol && inData !== null && inData.toUpperCase() !== e.symbol.toUpperCase()) {
      errors.push({
        path: at(i, "symbol"),
        message: `"${e.symbol}" contradicts data.symbol "${inData}"; send one, or the same in both`,
        code: "symbol_mismatch",
      });
    }
  });
  if (errors.length) throw new ApiError("unprocessable", "symbol and data.symbol disagree", { errors });
}

/** 413 when any envelope (the exact bytes a delivery would send) exceeds the limit. */
function checkPayloadSizes(
  events: readonly NewEvent[],
  max: number,
  at: (i: number, field: string) => string,
): void {
  const errors: FieldError[] = [];
  events.forEach((e, i) => {
    const bytes = Buffer.byteLength(envelope(e.type, e.occurredAt ?? new Date(0), e.data), "utf8");
    if (bytes > max)
      errors.push({ path: at(i, "data"), message: `the event would be ${bytes} bytes; the limit is ${max}` });
  });
  if (errors.length)
    throw new ApiError("payload_too_large", `event payloads are limited to ${max} bytes`, { errors });
}

/**
 * Inserts the key row, or returns the stored answer of the request that holds it. A matching key
 * with another request hash is refused: a client bug that would otherwise lose an event silently.
 */
async function claimIdempotencyKey(
  tx: Tx,
  scope: string,
  idem: { key: string; requestHash: string },
): Promise<PublishOutcome | null> {
  const claimed = await tx
    .insert(idempotencyKeys)
    .values({ scope, key: idem.key, requestHash: idem.requestHash, responseStatus: 0, responseBody: {} })
    .onConflictDoNothing()
    .returning({ key: idempotencyKeys.key });
  if (claimed.length) return null;
  const [row] = await tx
    .select()
    .from(idempotencyKeys)
    .where(and(eq(idempotencyKeys.scope, scope), eq(idempotencyKeys.key, idem.key)))
    .limit(1);
  if (!row) throw new Error("idempotency key vanished between insert and select");
  if (row.requestHash !== idem.requestHash)
    throw new ApiError("unprocessable", "Idempotency-Key reused with a different request", {
      errors: [
        {
          path: "header.idempotency-key",
          message: "this key was first used with another method, path or body",
        },
      ],
    });
  return { status: row.responseStatus, body: row.responseBody, replayed: true };
}

/**
 * 422 naming every unknown or deprecated type (with every tenant that is not live, when there are
 * such errors: then the tenants are checked here too), then every path of `data` that does not
 * match its type's JSON Schema. Types come from this process's cache (eventTypesByName).
 */
async function checkTypesAndData(
  deps: ServiceCtx["deps"],
  tx: Tx,
  events: readonly PublishEventInput[],
  tenantIds: readonly string[],
  at: (i: number, field: string) => string,
): Promise<void> {
  const byName = await eventTypesByName(deps, tx, [...new Set(events.map((e) => e.type))]);
  const errors: FieldError[] = [];
  events.forEach((e, i) => {
    const t = byName.get(e.type);
    if (!t) errors.push({ path: at(i, "type"), message: `unknown event type "${e.type}"` });
    else if (t.deprecatedAt)
      errors.push({ path: at(i, "type"), message: `event type "${e.type}" is deprecated` });
  });
  if (errors.length) {
    const live = await liveTenants(tx, tenantIds);
    const missing = tenantIds.filter((id) => !live.has(id));
    errors.push(...tenantErrors(events, missing, at));
    throw new ApiError("unprocessable", UNKNOWN_REFERENCES, { errors });
  }
  events.forEach((e, i) => {
    const t = byName.get(e.type);
    if (t) errors.push(...dataErrors(t.name, t.schema, e.data, at(i, "data"), at(i, "type")));
  });
  if (errors.length)
    throw new ApiError("unprocessable", "event data does not match the schema of its type", { errors });
}

type TypeRow = { name: string; deprecatedAt: Date | null; schema: Record<string, unknown> };

/** Event types by name, from the process cache, reading only the names it lacks (unknown: absent). */
async function eventTypesByName(
  deps: ServiceCtx["deps"],
  tx: Tx,
  names: readonly string[],
): Promise<Map<string, TypeRow>> {
  const found = new Map<string, TypeRow>();
  const missing: string[] = [];
  for (const name of names) {
    const cached = deps.caches.eventTypes.get(name) as TypeRow | undefined;
    if (cached) found.set(name, cached);
    else missing.push(name);
  }
  if (missing.length) {
    const rows = await tx
      .select({ name: eventTypes.name, deprecatedAt: eventTypes.deprecatedAt, schema: eventTypes.schema })
      .from(eventTypes)
      .where(inArray(eventTypes.name, missing));
    for (const row of rows) {
      found.set(row.name, row);
      deps.caches.eventTypes.set(row.name, row);
    }
  }
  return found;
}

/** The ids among `ids` of tenants that exist and are not deleted, share-locked until commit. */
async function liveTenants(tx: Tx, ids: readonly string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await run<{ id: string }>(tx, LIVE_TENANTS(ids.length, ids));
  return new Set(rows.map((r) => r.id));
}

const LIVE_TENANTS = perRowCount(
  (n) => `select id from tenants where id in (${list(n)}) and deleted_at is null for share`,
);

const UNKNOWN_REFERENCES = "the request names unknown or retired things";

/** One error per event naming a tenant in `missing`. */
function tenantErrors(
  events: readonly PublishEventInput[],
  missing: readonly string[],
  at: (i: number, field: string) => string,
): FieldError[] {
  return events.flatMap((e, i) =>
    e.tenantId && missing.includes(e.tenantId)
      ? [{ path: at(i, "tenantId"), message: "no live tenant has this id" }]
      : [],
  );
}

function dataErrors(
  type: string,
  schema: Record<string, unknown>,
  data: Record<string, unknown>,
  dataPath: string,
  typePath: string,
): FieldError[] {
  try {
    return eventDataErrors(schema, data).map((p) => ({
      path: p.path ? `${dataPath}.${p.path}` : dataPath,
      message: p.message,
      code: p.code,
    }));
  } catch (err) {
    // Creation refuses such schemas; one stored before that check blocks its type rather than
    // letting unvalidated data through.
    if (!isUncompilableSchema(err)) throw err;
    return [{ path: typePath, message: `the JSON Schema of event type "${type}" cannot be compiled` }];
  }
}
