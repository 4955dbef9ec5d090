/** Errors that mean "Postgres is unreachable right now" rather than "this query is wrong". */
const UNAVAILABLE_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "CONNECT_TIMEOUT",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "57P01", // admin_shutdown
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now
  "08000",
  "08003",
  "08006",
  "08001",
  "08004",
]);

type Coded = { code?: unknown; constraint_name?: unknown; cause?: unknown };

/**
 * Whether `err` or an error in its `cause` chain (`depth` links in all: drizzle wraps the driver's
 * error in DrizzleQueryError, services wrap again) satisfies `match`.
 */
export function inCauses(err: unknown, match: (e: Coded) => boolean, depth = 4): boolean {
  let e: unknown = err;
  for (let i = 0; i < depth && e && typeof e === "object"; i++) {
    if (match(e as Coded)) return true;
    e = (e as Coded).cause;
  }
  return false;
}

export function isDatabaseUnavailable(err: unknown): boolean {
  return inCauses(err, (e) => typeof e.code === "string" && UNAVAILABLE_CODES.has(e.code));
}

/** Postgres unique_violation. */
export function isUniqueViolation(err: unknown, constraint?: string): boolean {
  return inCauses(err, (e) => e.code === "23505" && (!constraint || e.constraint_name === constraint));
}

/**
 * Errors Postgres raises for a value it cannot take, whatever the query: a U+0000 in text
 * (22021) or jsonb (22P05), text that is not valid for its type (22P02), or input nested so deep
 * that parsing it exhausts the stack (54001). Field validation catches these first; this is the
 * backstop that keeps one we missed a 400 rather than a 500.
 */
const INVALID_INPUT_CODES = new Set(["22021", "22P05", "22P02", "54001"]);

export function isInvalidInput(err: unknown): boolean {
  let e: unknown = err;
  for (let i = 0; i < 4 && e && typeof e === "object"; i++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && INVALID_INPUT_CODES.has(code)) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}
