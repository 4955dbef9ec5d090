import { OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context, MiddlewareHandler } from "hono";
import type { ZodError } from "zod";
import type { Scope } from "../auth/principal.ts";
import { ApiError, type FieldError, ForbiddenError, ValidationError } from "../errors/index.ts";
import type { IdPrefix } from "../lib/ids.ts";
import type { ServiceCtx } from "../services/context.ts";
import type { AppEnv } from "./env.ts";

/**
 * Deepest nesting of arrays/objects accepted in a JSON body. Far beyond any real payload
 * (metadata, event data), small enough that no recursive walk over a body can exhaust the stack.
 */
export const MAX_JSON_DEPTH = 64;

/**
 * Strings bound for text or jsonb columns. PostgreSQL stores no U+0000 in either (the insert
 * fails), so every such field refuses it at the edge with a 400 naming the field. Event `data` is
 * exempt: it is stored as the serialised envelope, where a NUL is the escape `\u0000`.
 */
const NUL = "\u0000";
const NUL_MESSAGE = "must not contain the NUL character (U+0000)";
/** Every C0 control and DEL (and the C1 range): for names, keys and one-line values. */
const CONTROL = /\p{Cc}/u;
/** Control characters other than tab, line feed and carriage return: for free text. */
const CONTROL_IN_TEXT = /(?![\t\n\r])\p{Cc}/u;

/** A one-line string (a name, a metadata key or value): no control characters at all. */
export function plainLine(s: z.ZodString): z.ZodString {
  return s.refine((v) => !CONTROL.test(v), "must not contain control characters");
}

/** Free text (descriptions): tabs and line breaks allowed, other control characters not. */
export function plainText(s: z.ZodString): z.ZodString {
  return s.refine(
    (v) => !CONTROL_IN_TEXT.test(v),
    "must not contain control characters other than tab and line breaks",
  );
}

/** A string that only has to be storable (ids, filters): no U+0000. */
export function storable(s: z.ZodString): z.ZodString {
  return s.refine((v) => !v.includes(NUL), NUL_MESSAGE);
}

/**
 * Refuses U+0000 in the path or the query string before any route runs, naming where it was
 * (`path`, `query.<name>`): no id, filter or cursor may hold it, and PostgreSQL cannot store or
 * compare it, which left the database's error (no field named) to answer.
 */
export function noNulInUrl(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const url = new URL(c.req.url);
    const errors: FieldError[] = [];
    let path = url.pathname;
    try {
      path = decodeURIComponent(url.pathname);
    } catch {
      // Malformed escapes are the router's to refuse.
    }
    if (path.includes(NUL)) errors.push({ path: "path", message: NUL_MESSAGE, code: "invalid_string" });
    for (const [name, value] of url.searchParams)
      if (value.includes(NUL) || name.includes(NUL))
        errors.push({
          path: `query.${name.replaceAll(NUL, "\\u0000")}`,
          message: NUL_MESSAGE,
          code: "invalid_string",
        });
    if (errors.length) throw new ValidationError("the request URL contains the NUL character", errors);
    await next();
  };
}

/**
 * Where a JSON document (a schema, an example) holds a string or key with U+0000, as a path
 * relative to it; null if none. Bounded by MAX_JSON_DEPTH, which `strictJsonBodies` enforced.
 */
export function nulPath(value: unknown, path: (string | number)[] = []): (string | number)[] | null {
  if (typeof value === "string") return value.includes(NUL) ? path : null;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const hit = nulPath(value[i], [...path, i]);
      if (hit) return hit;
    }
    return null;
  }
  if (value && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) {
      if (k.includes(NUL)) return path;
      const hit = nulPath(v, [...path, k]);
      if (hit) return hit;
    }
  }
  return null;
}

export const ProblemSchema = z
  .object({
    type: z.string().openapi({ example: "/problems/validation_failed" }),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    instance: z.string().optional(),
    requestId: z.string().optional(),
    errors: z
      .array(z.object({ path: z.string(), message: z.string(), code: z.string().optional() }))
      .optional(),
  })
  .openapi("Problem");

const problem = (description: string) => ({
  description,
  content: { "application/problem+json": { schema: ProblemSchema } },
});

/** Error responses every authenticated route can give; spread into each route's `responses`. */
export const errorResponses = {
  400: problem(
    `Invalid input; \`errors\` names each bad field. Also malformed JSON, invalid UTF-8, a byte order mark, or nesting deeper than ${MAX_JSON_DEPTH} levels`,
  ),
  401: problem("Missing, unknown, expired or revoked credentials"),
  403: problem("The credentials lack a required scope, or the client IP is not allowed"),
  404: problem("No such resource (or not visible to this tenant)"),
  413: problem("Request body too large"),
  415: problem("A request body sent as anything but JSON (`application/json` or `application/*+json`)"),
  429: problem("Rate limit exceeded; see Retry-After"),
  500: problem("Unexpected error; the body never carries internals"),
  503: problem("Database or queue unavailable; retry later"),
} as const;

export const conflictResponse = { 409: problem("Conflicts with the current state") } as const;
export const unprocessableResponse = { 422: problem("Well-formed but not acceptable") } as const;

export const security = [{ bearer: [] }];

/**
 * zod issues → the `errors` array of a problem, with dotted paths (`endpoints.0.url`). A bad
 * record key carries the key's own message ("key: must not contain control characters") rather
 * than zod's bare "Invalid key in record".
 */
export function fieldErrors(err: ZodError, prefix?: string): FieldError[] {
  return err.issues.map((i) => {
    const inner = i.code === "invalid_key" ? i.issues[0] : undefined;
    return {
      path: [prefix, ...i.path.map(String)].filter(Boolean).join(".") || "(root)",
      message: inner ? `key: ${inner.message}` : i.message,
      code: i.code,
    };
  });
}

/** A router for one resource, with the shared validation hook. */
export function createRouter(): OpenAPIHono<AppEnv> {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) {
        const where = result.target === "json" ? "body" : result.target;
        throw new ValidationError(`the request ${where} is invalid`, fieldErrors(result.error, where));
      }
    },
  });
}

/** Media types `/v1` bodies may be sent as: `application/json` and `application/<suffix>+json`. */
const JSON_MEDIA_TYPE = /^application\/(?:[a-z.-]+\+)?json$/;
const BODY_METHODS = new Set(["POST", "PUT", "PATCH"]);
const MALFORMED_JSON = "Malformed JSON in request body";

/** The 415 every `/v1` route answers for a body that is not JSON. */
export function unsupportedMediaType(): ApiError {
  return new ApiError(
    "unsupported_media_type",
    "request bodies must be JSON: send Content-Type: application/json",
  );
}

/**
 * `/v1` middleware: a POST, PUT or PATCH that carries a body must send it as UTF-8 JSON. Answers
 * 415 for any other (or no) Content-Type, and 400 for a byte order mark, invalid UTF-8, nesting
 * deeper than MAX_JSON_DEPTH or malformed JSON, with one wording for every route. Checks run on
 * the raw bytes before any parse, so a pathological body costs one linear scan. Bodyless requests
 * pass whatever their Content-Type. The bytes stay in Hono's body cache, so the route's own
 * validator parses exactly the bytes checked here.
 */
export function strictJsonBodies(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (!BODY_METHODS.has(c.req.method) || c.req.raw.body === null) return next();
    const bytes = new Uint8Array(await c.req.arrayBuffer());
    if (bytes.byteLength === 0) return next();
    const mediaType = c.req.header("content-type")?.split(";")[0]?.trim().toLowerCase() ?? "";
    if (!JSON_MEDIA_TYPE.test(mediaType)) throw unsupportedMediaType();
    const text = decodeUtf8(bytes);
    if (text.charCodeAt(0) === 0xfeff)
      throw new ApiError(
        "bad_request",
        "the request body starts with a byte order mark; send JSON without one",
      );
    if (nestingDepth(text) > MAX_JSON_DEPTH)
      throw new ApiError("bad_request", `the request body nests deeper than ${MAX_JSON_DEPTH} levels`);
    try {
      JSON.parse(text);
    } catch {
      // Hono's validator words an empty JSON body this way; one wording for both.
      throw new ApiError("bad_request", MALFORMED_JSON);
    }
    // The validator's c.req.json() parses c.req.text(), which Hono would otherwise derive from the
    // cached bytes through a new Response (a web stream and a second UTF-8 decoding per request).
    // (Hono types the cache as Body's methods; it holds their results, promises.)
    (c.req.bodyCache as Record<string, unknown>).text = Promise.resolve(text);
    await next();
  };
}

function decodeUtf8(bytes: Uint8Array): string {
  try {
    // ignoreBOM keeps a leading U+FEFF in the text, so it can be refused rather than skipped.
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw new ApiError("bad_request", "the request body is not valid UTF-8");
  }
}

/** Deepest `[`/`{` nesting in a JSON text, ignoring brackets inside strings. Stops counting past the limit. */
function nestingDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (inString) {
      if (ch === 0x5c)
        i++; // backslash: skip the escaped character
      else if (ch === 0x22) inString = false;
    } else if (ch === 0x22) inString = true;
    else if (ch === 0x5b || ch === 0x7b) {
      depth++;
      if (depth > max) max = depth;
      if (max > MAX_JSON_DEPTH) return max;
    } else if (ch === 0x5d || ch === 0x7d) depth--;
  }
  return max;
}

/** Throws 403 unless the caller holds the scope. */
export function requireScope(c: Context<AppEnv>, scope: Scope): void {
  const p = c.get("principal");
  if (!p.scopes.includes(scope)) throw new ForbiddenError(`this operation needs the "${scope}" scope`);
}

/** Throws 403 unless the caller is the operator. */
export function requireOperator(c: Context<AppEnv>): void {
  if (c.get("principal").role !== "operator")
    throw new ForbiddenError("only operator credentials may do this");
}

/**
 * Route middleware (`createRoute({ middleware: [guard(...)] })`): 403 unless the caller is the
 * operator (when `operator` is set) and holds every scope. It runs before input validation, so a
 * caller without the right gets 403 whatever it sends.
 */
export function guard(opts: { scopes?: readonly Scope[]; operator?: boolean }): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (opts.operator) requireOperator(c);
    for (const s of opts.scopes ?? []) requireScope(c, s);
    await next();
  };
}

export function serviceCtx(c: Context<AppEnv>): ServiceCtx {
  return {
    deps: c.get("deps"),
    principal: c.get("principal"),
    requestId: c.get("requestId"),
    sourceIp: c.get("clientIp"),
  };
}

const LIMIT = z.coerce.number().int().min(1).max(100).default(50).openapi({ example: 50 });
const ULID_BODY = "[0-9A-HJKMNP-TV-Z]{26}";

/**
 * Cursor pagination shared by list routes: `limit` (1–100, default 50) and `cursor`, the
 * `nextCursor` of the previous page: the id of its last row, so it must be an id of this resource
 * (`evt_…` for events). Anything else is a 400 on `query.cursor`, never a silent first page.
 */
export function pageQuery(prefix: IdPrefix) {
  const re = new RegExp(`^${prefix}_${ULID_BODY}$`);
  return pageQueryWith(
    z.string().regex(re, `must be the nextCursor of a previous page (${prefix}_ and 26 base32 characters)`),
    `${prefix}_01JF3Z8Q4K2M6N8P0R2T4V6X8Z`,
  );
}

/** `pageQuery` for resources whose cursor is not an id (event types page by name). */
export function pageQueryWith(cursor: z.ZodString, example: string) {
  // Strict, like bodies: `?statuss=failed` must be a 400, not an unfiltered list.
  return z.strictObject({
    limit: LIMIT,
    cursor: cursor
      .optional()
      .openapi({ description: "`nextCursor` of the previous page; omit for the first page", example }),
  });
}

export function pageOf<T extends { id: string }>(
  rows: T[],
  limit: number,
): { data: T[]; nextCursor: string | null; hasMore: boolean } {
  const hasMore = rows.length > limit;
  const data = hasMore ? rows.slice(0, limit) : rows;
  return { data, hasMore, nextCursor: hasMore ? (data.at(-1)?.id ?? null) : null };
}

export const pageSchema = <T extends z.ZodType>(item: T) =>
  z.object({ data: z.array(item), nextCursor: z.string().nullable(), hasMore: z.boolean() });

export const IdParam = (prefix: string, example: string) =>
  z.object({
    id: z
      .string()
      .max(64)
      .openapi({ param: { name: "id", in: "path" }, example: `${prefix}_${example}` }),
  });

export { ApiError };
