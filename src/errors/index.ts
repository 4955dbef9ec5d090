/**
 * One error type for the edge. Services throw these (or the domain subclasses); `onError` in
 * app.ts turns them into RFC 9457 problem+json. Anything else becomes a generic 500.
 */
export type ErrorCode =
  | "bad_request"
  | "validation_failed"
  | "unauthorized"
  | "forbidden"
  | "not_found"
  | "conflict"
  | "payload_too_large"
  | "unsupported_media_type"
  | "unprocessable"
  | "rate_limited"
  | "unavailable"
  | "internal";

export type FieldError = { path: string; message: string; code?: string };

export function statusOf(code: ErrorCode): number {
  switch (code) {
    case "bad_request":
    case "validation_failed":
      return 400;
    case "unauthorized":
      return 401;
    case "forbidden":
      return 403;
    case "not_found":
      return 404;
    case "conflict":
      return 409;
    case "payload_too_large":
      return 413;
    case "unsupported_media_type":
      return 415;
    case "unprocessable":
      return 422;
    case "rate_limited":
      return 429;
    case "unavailable":
      return 503;
    case "internal":
      return 500;
  }
}

const TITLES: Record<ErrorCode, string> = {
  bad_request: "Bad request",
  validation_failed: "Validation failed",
  unauthorized: "Unauthorized",
  forbidden: "Forbidden",
  not_found: "Not found",
  conflict: "Conflict",
  payload_too_large: "Payload too large",
  unsupported_media_type: "Unsupported media type",
  unprocessable: "Unprocessable request",
  rate_limited: "Too many requests",
  unavailable: "Service unavailable",
  internal: "Internal server error",
};

export class ApiError extends Error {
  readonly code: ErrorCode;
  readonly errors: FieldError[] | undefined;
  readonly headers: Record<string, string> | undefined;
  constructor(
    code: ErrorCode,
    detail: string,
    opts: { errors?: FieldError[]; headers?: Record<string, string> } = {},
  ) {
    super(detail);
    this.name = "ApiError";
    this.code = code;
    this.errors = opts.errors;
    this.headers = opts.headers;
  }
  get status(): number {
    return statusOf(this.code);
  }
  get title(): string {
    return TITLES[this.code];
  }
}

export class NotFoundError extends ApiError {
  constructor(what: string, id?: string) {
    super("not_found", id ? `${what} ${id} was not found` : `${what} was not found`);
  }
}

export class ConflictError extends ApiError {
  constructor(detail: string) {
    super("conflict", detail);
  }
}

export class ValidationError extends ApiError {
  constructor(detail: string, errors: FieldError[] = []) {
    super("validation_failed", detail, { errors });
  }
}

export class ForbiddenError extends ApiError {
  constructor(detail: string) {
    super("forbidden", detail);
  }
}

export class UnauthorizedError extends ApiError {
  constructor(detail = "missing or invalid credentials") {
    super("unauthorized", detail, { headers: { "www-authenticate": 'Bearer realm="signalpost"' } });
  }
}

export type Problem = {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance?: string;
  requestId?: string;
  errors?: FieldError[];
};

export function toProblem(err: ApiError, requestId: string | undefined, instance?: string): Problem {
  return {
    type: `/problems/${err.code}`,
    title: err.title,
    status: err.status,
    detail: err.message,
    ...(instance ? { instance } : {}),
    ...(requestId ? { requestId } : {}),
    ...(err.errors?.length ? { errors: err.errors } : {}),
  };
}
