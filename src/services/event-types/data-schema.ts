import { createHash } from "node:crypto";
import { Ajv2020, type ErrorObject, type ValidateFunction } from "ajv/dist/2020.js";
import { fullFormats } from "ajv-formats/dist/formats.js";
import { RE2JS } from "re2js";

/**
 * JSON Schema (draft 2020-12) for event `data`: checks an operator's schema when a type is
 * created, and validates published data against its type's schema. Compiled validators are cached
 * per process by a hash of the schema, so an unchanged schema is compiled once and a changed one
 * (a release that improves the built-in catalog) is simply a new entry.
 */

export const JSON_SCHEMA_DRAFT = "https://json-schema.org/draft/2020-12/schema";

/** Most problems reported for one document; the rest add nothing a client needs to fix it. */
const MAX_PROBLEMS = 20;
/** Compiled schemas kept; beyond it the oldest is dropped (and recompiled if it comes back). */
const MAX_CACHED = 500;

/** One problem, with a dotted path relative to the document (`current.value`; "" = the root). */
export type SchemaProblem = { path: string; message: string; code: string };

/**
 * `pattern` and `patternProperties` run on RE2 (re2js, a pure-JS port): matching takes time linear
 * in the input, so an operator's backtracking pattern (`^(a+)+$`) cannot freeze the API's event
 * loop on a crafted value, as JavaScript's RegExp did (~1 s at 28 characters, doubling with each
 * one more). RE2 has no lookaround and no backreferences: a schema using them is refused when its
 * type is created (a bad `pattern`), not accepted and then slow.
 */
const re2: ((pattern: string, flags: string) => { test: (s: string) => boolean }) & { code: string } =
  Object.assign(
    (pattern: string, flags: string) => {
      const re = RE2JS.compile(pattern);
      // Ajv shares compiled patterns by their toString(): it must tell patterns apart.
      return { test: (s: string) => re.test(s), toString: () => `re2:/${pattern}/${flags}` };
    },
    { code: "re2js" },
  );

// Not strict: operator schemas may carry vendor keywords (`x-…`) and formats we do not know, which
// are annotations. Used schemas are not registered by `$id`, so two types may share an `$id`.
const ajv = new Ajv2020({
  strict: false,
  allErrors: true,
  formats: fullFormats,
  addUsedSchema: false,
  logger: false,
  code: { regExp: re2 },
});

const cache = new Map<string, ValidateFunction>();

class UncompilableSchema extends Error {}

function compiled(schema: Record<string, unknown>): ValidateFunction {
  const key = createHash("sha256").update(JSON.stringify(schema)).digest("base64url");
  const hit = cache.get(key);
  if (hit) return hit;
  let validate: ValidateFunction;
  try {
    validate = ajv.compile(schema);
  } catch (err) {
    ajv.removeSchema(schema);
    throw new UncompilableSchema(err instanceof Error ? err.message : String(err));
  }
  cache.set(key, validate);
  if (cache.size > MAX_CACHED) {
    const [oldest, fn] = cache.entries().next().value ?? [];
    if (oldest !== undefined) cache.delete(oldest);
    if (fn) ajv.removeSchema(fn.schema as object);
  }
  return validate;
}

/**
 * Problems with a schema an operator registers: not draft 2020-12, not a valid schema by the
 * meta-schema, or not compilable (an unresolvable `$ref`, a bad `pattern`). [] when it is usable.
 */
export function schemaProblems(schema: Record<string, unknown>): SchemaProblem[] {
  const draft = schema.$schema;
  if (draft !== undefined && draft !== JSON_SCHEMA_DRAFT)
    return [{ path: "$schema", message: `must be ${JSON_SCHEMA_DRAFT} (or omitted)`, code: "draft" }];
  // The meta-schema reports one mistake several ways (enum, type, anyOf): the first says it best.
  if (!ajv.validateSchema(schema))
    return toProblems(ajv.errors ?? []).filter((p, i, all) => all.findIndex((q) => q.path === p.path) === i);
  try {
    compiled(schema);
  } catch (err) {
    return [
      {
        path: "",
        message: `cannot be compiled: ${shorten(String((err as Error).message))}`,
        code: "compile",
      },
    ];
  }
  return [];
}

/**
 * Problems of `data` against a type's schema; [] when it conforms. Throws when the stored schema
 * cannot be compiled (`isUncompilableSchema`), which creation-time checks rule out for new types.
 */
export function eventDataErrors(schema: Record<string, unknown>, data: unknown): SchemaProblem[] {
  const validate = compiled(schema);
  return validate(data) ? [] : toProblems(validate.errors ?? []);
}

export function isUncompilableSchema(err: unknown): boolean {
  return err instanceof UncompilableSchema;
}

function toProblems(errors: readonly ErrorObject[]): SchemaProblem[] {
  const out: SchemaProblem[] = [];
  const seen = new Set<string>();
  for (const e of errors) {
    const p = toProblem(e);
    const id = `${p.path}\u0000${p.message}`;
    if (seen.has(id)) continue;
    seen.add(id);
    out.push(p);
    if (out.length >= MAX_PROBLEMS) break;
  }
  return out;
}

function toProblem(e: ErrorObject): SchemaProblem {
  const segments = e.instancePath
    .split("/")
    .slice(1)
    .map((s) => s.replaceAll("~1", "/").replaceAll("~0", "~"));
  const params = e.params as Record<string, unknown>;
  let message = e.message ?? "is invalid";
  if (e.keyword === "required" || e.keyword === "dependentRequired") {
    segments.push(String(params.missingProperty));
    message = "is required";
  } else if (e.keyword === "additionalProperties" || e.keyword === "unevaluatedProperties") {
    const name = params.additionalProperty ?? params.unevaluatedProperty;
    segments.push(String(name));
    message = "is not allowed";
  } else if (e.keyword === "enum" && Array.isArray(params.allowedValues)) {
    message = `must be one of ${shorten(params.allowedValues.map((v) => JSON.stringify(v)).join(", "))}`;
  } else if (e.keyword === "const") {
    message = `must be ${shorten(JSON.stringify(params.allowedValue))}`;
  }
  return { path: segments.join("."), message, code: e.keyword };
}

function shorten(s: string): string {
  return s.length > 200 ? `${s.slice(0, 197)}…` : s;
}
