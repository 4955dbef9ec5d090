import type { DbOrTx } from "../../../db/client.ts";
import { apiKeys, auditLog } from "../../../db/schema/index.ts";
import { generateApiKeyToken } from "../../auth/api-key-token.ts";
import { SCOPES } from "../../auth/principal.ts";
import { newId } from "../../lib/ids.ts";

/**
 * Creates an operator key with every scope (used by `signalpost bootstrap` and on the first
 * embedded start). Returns the token; it is not stored anywhere in clear.
 */
export async function createOperatorKey(
  db: DbOrTx,
  name = "bootstrap",
): Promise<{ id: string; token: string }> {
  const { token, prefix, hash } = generateApiKeyToken();
  const id = newId("key");
  await db.insert(apiKeys).values({
    id,
    tenantId: null,
    role: "operator",
    name,
    prefix,
    secretHash: hash,
    scopes: [...SCOPES],
  });
  await db.insert(auditLog).values({
    id: newId("aud"),
    actorId: "system",
    actorRole: "system",
    tenantId: null,
    action: "api_key.create",
    targetType: "api_key",
    targetId: id,
    details: { role: "operator", name },
  });
  return { id, token };
}
