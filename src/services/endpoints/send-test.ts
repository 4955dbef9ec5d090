import { eq } from "drizzle-orm";
import { deliveries, events, eventTypes } from "../../../db/schema/index.ts";
import { ApiError, ConflictError } from "../../errors/index.ts";
import { enqueueDeliveries } from "../../jobs/enqueue.ts";
import { newId } from "../../lib/ids.ts";
import { recordAudit } from "../audit/record.ts";
import type { ServiceCtx } from "../context.ts";
import { envelope } from "../events/insert.ts";
import { loadEndpoint } from "./load.ts";

export const TEST_EVENT_TYPE = "webhook.test";

/**
 * Sends a test event to one endpoint only: the event (scoped to the endpoint's tenant), its one
 * delivery and the delivery job commit together. No fan-out, so no other endpoint receives it.
 */
export async function sendTestEvent(
  ctx: ServiceCtx,
  id: string,
  input: { eventType?: string | undefined },
): Promise<{ eventId: string; deliveryId: string }> {
  const type = input.eventType ?? TEST_EVENT_TYPE;
  return ctx.deps.db.transaction(async (tx) => {
    const endpoint = await loadEndpoint(tx, ctx, id);
    if (endpoint.disabled) throw new ConflictError(`endpoint ${endpoint.id} is disabled; enable it first`);
    let data: unknown = {
      message: "This is a test event from Signalpost.",
      endpointId: endpoint.id,
    };
    if (type !== TEST_EVENT_TYPE) {
      const [known] = await tx.select().from(eventTypes).where(eq(eventTypes.name, type)).limit(1);
      if (!known)
        throw new ApiError("unprocessable", `unknown event type: ${type}`, {
          errors: [
            {
              path: "body.eventType",
              message: `${type} is not in the event type catalog`,
              code: "unknown_event_type",
            },
          ],
        });
      if (known.example !== null && known.example !== undefined) data = known.example;
    }
    const occurredAt = ctx.deps.now();
    const eventId = newId("evt");
    await tx.insert(events).values({
      id: eventId,
      type,
      tenantId: endpoint.tenantId,
      body: envelope(type, occurredAt, data),
      occurredAt,
    });
    const deliveryId = newId("dlv");
    await tx.insert(deliveries).values({
      id: deliveryId,
      eventId,
      endpointId: endpoint.id,
      tenantId: endpoint.tenantId,
      eventType: type,
      nextAttemptAt: occurredAt,
    });
    await enqueueDeliveries(ctx.deps.boss, tx, [
      {
        deliveryId,
        generation: 0,
        trigger: "manual",
        endpointId: endpoint.id,
        maxConcurrency: endpoint.maxConcurrency,
      },
    ]);
    await recordAudit(tx, ctx, {
      action: "endpoint.test",
      targetType: "endpoint",
      targetId: endpoint.id,
      tenantId: endpoint.tenantId,
      details: { eventId, deliveryId, eventType: type },
    });
    return { eventId, deliveryId };
  });
}
