import { pino } from "pino";

export type Logger = pino.Logger;

/**
 * Structured JSON logs. Secrets never reach a log line: fields that could carry them are redacted
 * by path as a second line of defence behind not logging them at all.
 */
export function createLogger(
  level: string,
  bindings: Record<string, unknown> = {},
  /** Where lines go; default stdout. Tests pass a stream to inspect what was logged. */
  destination?: pino.DestinationStream,
): Logger {
  const options: pino.LoggerOptions = {
    level,
    serializers: { err: serializeError },
    base: { service: "signalpost", ...bindings },
    redact: {
      paths: [
        "authorization",
        "*.authorization",
        "headers.authorization",
        "secret",
        "*.secret",
        "token",
        "*.token",
        "apiKey",
        "*.apiKey",
        "*.password",
      ],
      censor: "[redacted]",
    },
  };
  return destination ? pino(options, destination) : pino(options);
}

/**
 * Database errors carry the failed statement and its bound parameters (postgres.js: `query`,
 * `parameters`; pg: `parameters` in some paths). Parameters can be token hashes, ciphertexts or
 * payloads, so they never reach a log line; the statement text (placeholders only) is kept short.
 */
function serializeError(err: unknown): Record<string, unknown> {
  const out = pino.stdSerializers.err(err as Error) as unknown as Record<string, unknown>;
  for (const key of ["parameters", "args", "values", "params"]) delete out[key];
  if (typeof out.query === "string") out.query = out.query.slice(0, 300);
  // Data exceptions (22xxx) quote the offending input in the message; integrity errors (23xxx)
  // put row values in `detail`. Both can be secrets: keep the shape, drop the values.
  const code = typeof out.code === "string" ? out.code : "";
  if (code.startsWith("22")) {
    for (const key of ["message", "stack"]) {
      if (typeof out[key] === "string") out[key] = (out[key] as string).replace(/"[^"\n]*"/g, '"[value]"');
    }
  }
  if (code.startsWith("22") || code.startsWith("23")) delete out.detail;
  const cause = out.cause as Record<string, unknown> | undefined;
  if (cause && typeof cause === "object")
    for (const key of ["parameters", "args", "values", "params"]) delete cause[key];
  return out;
}
