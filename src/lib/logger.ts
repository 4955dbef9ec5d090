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
