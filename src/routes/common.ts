import { OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context, MiddlewareHandler } from "hono";
import type { ZodError } from "zod";
import type { Scope } from "../auth/principal.ts";
import { ApiError, type FieldError, ForbiddenError, ValidationError } from "../errors/index.ts";
import type { ServiceCtx } from "../services/context.ts";
import type { AppEnv } from "./env.ts";

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
  400: problem("Invalid input; `errors` names each bad field"),
  401: problem("Missing, unknown, expired or revoked credentials"),
  403: problem("The credentials lack a required scope, or the client IP is not allowed"),
  404: problem("No such resource (or not visible to this tenant)"),
  413: problem("Request body too large"),
  429: problem("Rate limit exceeded; see Retry-After"),
  500: problem("Unexpected error; the body never carries internals"),
  503: problem("Database or queue unavailable; retry later"),
} as const;

export const conflictResponse = { 409: problem("Conflicts with the current state") } as const;
export const unprocessableResponse = { 422: problem("Well-formed but not acceptable") } as const;

export const security = [{ bearer: [] }];

/** zod issues → the `errors` array of a problem, with dotted paths (`endpoints.0.url`). */
export function fieldErrors(err: ZodError, prefix?: string): FieldError[] {
  return err.issues.map((i) => ({
    path: [prefix, ...i.path.map(String)].filter(Boolean).join(".") || "(root)",
    message: i.message,
    code: i.code,
  }));
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

/** Cursor pagination shared by list routes: `limit` (1–100, default 50) and an opaque `cursor`. */
export const PageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(50).openapi({ example: 50 }),
  cursor: z.string().max(200).optional().openapi({ description: "`nextCursor` of the previous page" }),
});

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
