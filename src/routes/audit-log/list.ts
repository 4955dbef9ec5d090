import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { listAuditEntries } from "../../services/audit/list.ts";
import { errorResponses, guard, pageOf, security, serviceCtx } from "../common.ts";
import type { AppEnv } from "../env.ts";
import { AuditListQuery, AuditPage, toAuditEntry } from "./schema.ts";

const route = createRoute({
  method: "get",
  path: "/v1/audit-log",
  tags: ["audit log"],
  summary: "List audit rows, newest first",
  description:
    "Needs `audit:read`. The operator sees every row; a tenant only rows about its own tenant. Every mutation writes one row (who, tenant, action, target, source IP, request id, time) in the same transaction as the change. Rows never contain secrets.",
  security,
  middleware: [guard({ scopes: ["audit:read"] })] as const,
  request: { query: AuditListQuery },
  responses: {
    200: { description: "A page of audit rows", content: { "application/json": { schema: AuditPage } } },
    ...errorResponses,
  },
});

export function registerListAuditLog(r: OpenAPIHono<AppEnv>): void {
  r.openapi(route, async (c) => {
    const q = c.req.valid("query");
    const rows = await listAuditEntries(serviceCtx(c), {
      ...q,
      since: q.since ? new Date(q.since) : undefined,
      until: q.until ? new Date(q.until) : undefined,
    });
    const page = pageOf(rows, q.limit);
    return c.json({ ...page, data: page.data.map(toAuditEntry) }, 200);
  });
}
