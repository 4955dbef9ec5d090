/** SQLSTATE classes and codes that say "try again later", not "this will never work". */
const TRANSIENT_SQLSTATE_CLASSES = ["08", "53", "58"]; // connection, insufficient resources, system error
const TRANSIENT_SQLSTATES = new Set([
  "40001", // serialization_failure
  "40P01", // deadlock_detected
  "55P03", // lock_not_available
  "57014", // query_canceled (statement timeout)
  "57P01", // admin_shutdown
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now
  "57P05", // idle_session_timeout
  "25P03", // idle_in_transaction_session_timeout
]);
/** Client-side codes: postgres.js connection states and Node socket errors. */
const TRANSIENT_CLIENT_CODES =
  /^(CONNECTION_|CONNECT_TIMEOUT|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN)/;

/**
 * True when a database error (or anything it wraps: drizzle puts the driver's error in `cause`) is
 * one that retrying later can fix: a lost connection, an overloaded or restarting server, a
 * deadlock or serialization failure. Everything else — a constraint or data error, a bug — fails
 * the same way every time.
 */
export function isTransientDbError(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 5; depth++) {
    if (typeof e !== "object") return false;
    const { code, message, cause } = e as { code?: unknown; message?: unknown; cause?: unknown };
    if (typeof code === "string") {
      if (TRANSIENT_SQLSTATES.has(code) || TRANSIENT_CLIENT_CODES.test(code)) return true;
      if (/^[0-9A-Z]{5}$/.test(code) && TRANSIENT_SQLSTATE_CLASSES.includes(code.slice(0, 2))) return true;
    }
    // node-postgres (pg-boss) reports a dropped connection without a code.
    if (
      typeof message === "string" &&
      /Connection terminated|timeout exceeded when trying to connect/i.test(message)
    )
      return true;
    e = cause;
  }
  return false;
}

/**
 * The innermost cause's code and message, for a job's failure output: drizzle's wrapper message
 * repeats the whole query with its parameters (attempt rows carry response bodies).
 */
export function rootErrorMessage(err: unknown): string {
  let e: unknown = err;
  for (let depth = 0; depth < 5 && e instanceof Error && e.cause instanceof Error; depth++) e = e.cause;
  if (!(e instanceof Error)) return String(e).slice(0, 500);
  const code = (e as { code?: unknown }).code;
  return `${typeof code === "string" ? `${code}: ` : ""}${e.message}`.slice(0, 500);
}
