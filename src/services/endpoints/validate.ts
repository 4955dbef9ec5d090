import { inArray } from "drizzle-orm";
import type { DbOrTx } from "../../../db/client.ts";
import { eventTypes } from "../../../db/schema/index.ts";
import { checkUrl } from "../../delivery/ssrf.ts";
import { ApiError, ValidationError } from "../../errors/index.ts";
import type { ServiceCtx } from "../context.ts";

/**
 * The static SSRF checks at save time: scheme, credentials, and IP-literal hosts in blocked
 * ranges. DNS names are resolved and checked again by the engine before every attempt.
 */
export function checkEndpointUrl(ctx: ServiceCtx, url: string): string {
  const { config } = ctx.deps;
  const checked = checkUrl(url, {
    allowCidrs: config.SSRF_ALLOW_CIDRS,
    requireHttps: config.SIGNALPOST_ENV === "production",
  });
  if ("reason" in checked)
    throw new ValidationError("the endpoint URL is not allowed", [
      { path: "body.url", message: checked.reason, code: "invalid_url" },
    ]);
  // A fragment is never sent in an HTTP request: keeping one would only mislead.
  if (checked.url.hash || url.includes("#"))
    throw new ValidationError("the endpoint URL is not allowed", [
      { path: "body.url", message: "must not have a #fragment (it is never sent)", code: "invalid_url" },
    ]);
  return url;
}

/**
 * Exact names in an event-type filter must be in the catalog; `prefix.*` wildcards are accepted
 * as they are (types added to the catalog later match them). Unknown names → 422.
 */
export async function checkEventTypes(
  tx: DbOrTx,
  filter: readonly string[] | null | undefined,
): Promise<void> {
  if (!filter) return;
  const names = [...new Set(filter.filter((f) => !f.endsWith(".*")))];
  if (names.length === 0) return;
  const known = await tx
    .select({ name: eventTypes.name })
    .from(eventTypes)
    .where(inArray(eventTypes.name, names));
  const have = new Set(known.map((k) => k.name));
  const unknown = names.filter((n) => !have.has(n));
  if (unknown.length)
    throw new ApiError(
      "unprocessable",
      `unknown event type${unknown.length > 1 ? "s" : ""}: ${unknown.join(", ")}`,
      {
        errors: filter
          .map((f, i) => ({ f, i }))
          .filter(({ f }) => unknown.includes(f))
          .map(({ f, i }) => ({
            path: `body.eventTypes.${i}`,
            message: `${f} is not in the event type catalog (GET /v1/event-types)`,
            code: "unknown_event_type",
          })),
      },
    );
}
