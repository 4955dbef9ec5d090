import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { getSignalState } from "../../services/signals/get.ts";
import { errorResponses, guard, security, serviceCtx } from "../common.ts";
import type { AppEnv } from "../env.ts";
import { SymbolParam, SymbolStateResponse, toSignalState } from "./schema.ts";

const route = createRoute({
  method: "get",
  path: "/v1/signals/{symbol}",
  tags: ["signals"],
  summary: "Current signal and grade state of a symbol",
  description:
    "One entry per (source, kind, timeframe) the detector has seen for the symbol (`signals:read`; operators and tenants). 404 when the symbol has no state.",
  security,
  middleware: [guard({ scopes: ["signals:read"] })] as const,
  request: { params: SymbolParam },
  responses: {
    200: { description: "The state", content: { "application/json": { schema: SymbolStateResponse } } },
    ...errorResponses,
  },
});

export function registerGetSignalState(r: OpenAPIHono<AppEnv>): void {
  r.openapi(route, async (c) => {
    const { symbol } = c.req.valid("param");
    const rows = await getSignalState(serviceCtx(c), symbol);
    return c.json({ symbol, states: rows.map(toSignalState) }, 200);
  });
}
