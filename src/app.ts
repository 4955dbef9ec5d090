import { getConnInfo } from "@hono/node-server/conninfo";
import { OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import { matchedRoutes } from "hono/route";
import { secureHeaders } from "hono/secure-headers";
import { authenticate } from "./auth/authenticate.ts";
import { rateLimit } from "./auth/rate-limit.ts";
import type { Deps } from "./deps.ts";
import { ApiError, toProblem } from "./errors/index.ts";
import { newId } from "./lib/ids.ts";
import { isDatabaseUnavailable, isInvalidInput } from "./lib/pg-errors.ts";
import { registerMetricsRoute } from "./metrics/route.ts";
import { fieldErrors, noNulInUrl, strictJsonBodies, unsupportedMediaType } from "./routes/common.ts";
import { docsPage } from "./routes/docs.ts";
import type { AppEnv } from "./routes/env.ts";
import { registerHealthRoutes } from "./routes/health.ts";
import { registerPublicRoutes, registerV1Routes } from "./routes/index.ts";

export const API_INFO = {
  openapi: "3.1.0",
  info: {
    title: "Signalpost API",
    version: "1.0.0",
    description:
      "Webhook fan-out for market-data providers: events, endpoints, signed deliveries with retries, and an audit trail. Errors are RFC 9457 problem+json.",
  },
  servers: [{ url: "/" }],
};

const REQUEST_ID_RE = /^[A-Za-z0-9._-]{1,128}$/;

/** Builds the HTTP app. The server and the tests both call this; neither binds a port here. */
export function createApp(deps: Deps): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>();

  app.use("*", async (c, next) => {
    const incoming = c.req.header("x-request-id");
    const requestId =
      incoming && REQUEST_ID_RE.test(incoming) ? incoming : newId("job").replace("job_", "req_");
    c.set("requestId", requestId);
    c.set("deps", deps);
    c.set("clientIp", clientIp(c, deps.config.TRUST_PROXY));
    c.header("x-request-id", requestId);
    const started = performance.now();
    await next();
    // The route pattern (`/v1/endpoints/:id`), never the raw path, keeps label cardinality bounded.
    const matched = matchedRoutes(c).at(-1);
    deps.metrics.observeRequest(
      c.req.method,
      matched && matched.method !== "ALL" ? matched.path : "unmatched",
      c.res.status,
      (performance.now() - started) / 1000,
    );
    deps.logger.debug(
      {
        requestId,
        method: c.req.method,
        path: c.req.path,
        status: c.res.status,
        ms: Math.round(performance.now() - started),
      },
      "request",
    );
  });
  app.use("*", secureHeaders({ crossOriginResourcePolicy: "same-origin", xFrameOptions: "DENY" }));
  app.use(
    "*",
    bodyLimit({
      maxSize: deps.config.MAX_BODY_BYTES,
      onError: () => {
        // The rest of the body is never read: closing the connection stops a keep-alive client
        // from reusing a socket the server is about to drop.
        throw new ApiError(
          "payload_too_large",
          `request bodies are limited to ${deps.config.MAX_BODY_BYTES} bytes`,
          { headers: { connection: "close" } },
        );
      },
    }),
  );

  registerHealthRoutes(app);
  registerMetricsRoute(app);
  registerPublicRoutes(app);
  app.use("/v1/*", authenticate());
  app.use("/v1/*", rateLimit());
  app.use("/v1/*", noNulInUrl());
  app.use("/v1/*", strictJsonBodies());
  registerV1Routes(app);

  app.openAPIRegistry.registerComponent("securitySchemes", "bearer", {
    type: "http",
    scheme: "bearer",
    description: "An API key (`sp_…`) or an access token from `POST /oauth/token`.",
  });
  app.get("/openapi.json", (c) => c.json(openApiDocument(app)));
  app.get("/docs", (c) => docsPage(c));

  app.notFound((c) =>
    problemResponse(c, new ApiError("not_found", `no route for ${c.req.method} ${c.req.path}`)),
  );
  app.onError((err, c) => {
    if (err instanceof ApiError) return problemResponse(c, err);
    if (err instanceof HTTPException) {
      // @hono/zod-openapi's per-route media-type gate throws a bare 415.
      if (err.status === 415) return problemResponse(c, unsupportedMediaType());
      const code =
        err.status === 413 ? "payload_too_large" : err.status === 401 ? "unauthorized" : "bad_request";
      return problemResponse(c, new ApiError(code, err.message || "bad request"));
    }
    if (err instanceof SyntaxError)
      return problemResponse(c, new ApiError("bad_request", "the body is not valid JSON"));
    if (isZodError(err))
      return problemResponse(
        c,
        new ApiError("validation_failed", "invalid input", { errors: fieldErrors(err) }),
      );
    if (isDatabaseUnavailable(err)) {
      deps.logger.warn({ requestId: c.get("requestId"), err }, "database unavailable");
      return problemResponse(
        c,
        new ApiError("unavailable", "the database is unavailable; retry shortly", {
          headers: { "retry-after": "5" },
        }),
      );
    }
    if (isInvalidInput(err)) {
      // Still a gap in field validation worth closing: log it, but never echo the database's words.
      deps.logger.warn({ requestId: c.get("requestId"), err }, "input refused by the database");
      return problemResponse(
        c,
        new ApiError("bad_request", "the request contains a value the database cannot store or compare"),
      );
    }
    deps.logger.error({ requestId: c.get("requestId"), err }, "unhandled error");
    return problemResponse(
      c,
      new ApiError("internal", "an unexpected error occurred; quote the request id when reporting it"),
    );
  });
  return app;
}

/**
 * What a worker process serves on PORT: liveness, readiness (and metrics), no API. Lets
 * orchestrators health-check workers the same way as API processes.
 */
export function createOpsApp(deps: Deps): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>();
  app.use("*", async (c, next) => {
    c.set("deps", deps);
    await next();
  });
  registerHealthRoutes(app);
  registerMetricsRoute(app);
  return app;
}

export function openApiDocument(app: OpenAPIHono<AppEnv>) {
  return app.getOpenAPI31Document(API_INFO);
}

function problemResponse(c: Context<AppEnv>, err: ApiError): Response {
  const body = toProblem(err, c.get("requestId"), c.req.path);
  const headers: Record<string, string> = {
    "content-type": "application/problem+json",
    ...(err.headers ?? {}),
  };
  const rid = c.get("requestId");
  if (rid) headers["x-request-id"] = rid;
  return new Response(JSON.stringify(body), { status: err.status, headers });
}

function isZodError(err: unknown): err is import("zod").ZodError {
  return typeof err === "object" && err !== null && (err as { name?: string }).name === "ZodError";
}

function clientIp(c: Context<AppEnv>, trustProxy: boolean): string | null {
  if (trustProxy) {
    const xff = c.req.header("x-forwarded-for");
    // The left-most entry is the original client as seen by the first (trusted) proxy.
    const first = xff?.split(",")[0]?.trim();
    if (first) return first;
  }
  try {
    return getConnInfo(c).remote.address ?? null;
  } catch {
    return null; // not running under @hono/node-server (e.g. app.request in tests)
  }
}
