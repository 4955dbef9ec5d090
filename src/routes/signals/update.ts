import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { toSnapshot } from "../../detector/snapshot.ts";
import { putSignals } from "../../services/signals/put.ts";
import { errorResponses, guard, security, serviceCtx } from "../common.ts";
import type { AppEnv } from "../env.ts";
import { PutSignalsBody, PutSignalsResponse } from "./schema.ts";

const route = createRoute({
  method: "put",
  path: "/v1/signals",
  tags: ["signals"],
  summary: "Put a batch of signal and grade snapshots",
  description:
    "Operator only (`signals:write`). The whole batch is validated first: one bad row rejects it with a problem naming the row and field (`body.snapshots.3.score`), and nothing is applied. Accepted snapshots are compared with the stored state by the change detector, asynchronously; changes become `signal.changed`, `grade.upgraded` or `grade.downgraded` events. See docs/detector.md for the rules.",
  security,
  middleware: [guard({ operator: true, scopes: ["signals:write"] })] as const,
  request: { body: { required: true, content: { "application/json": { schema: PutSignalsBody } } } },
  responses: {
    202: {
      description: "Accepted for detection",
      content: { "application/json": { schema: PutSignalsResponse } },
    },
    ...errorResponses,
  },
});

export function registerPutSignals(r: OpenAPIHono<AppEnv>): void {
  r.openapi(route, async (c) => {
    const body = c.req.valid("json");
    const result = await putSignals(
      serviceCtx(c),
      body.snapshots.map((s) => toSnapshot(body.source, s)),
    );
    return c.json(result, 202);
  });
}
