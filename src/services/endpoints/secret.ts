import { verificationKey } from "../../delivery/sign.ts";
import type { ServiceCtx } from "../context.ts";
import { loadEndpoint } from "./load.ts";
import { secretRows } from "./secrets.ts";

export type SecretView = {
  /** The `whsec_` secret (v1), or the `whpk_` public key (v1a). */
  secret: string;
  createdAt: string;
  /** Rotated-out secrets still signing, without their values. */
  previous: { createdAt: string; expiresAt: string }[];
};

/** The endpoint's current signing secret, decrypted (for v1a: its public key). Reading it is not a mutation, so no audit row. */
export async function getEndpointSecret(ctx: ServiceCtx, id: string): Promise<SecretView> {
  const { db, keyring } = ctx.deps;
  const endpoint = await loadEndpoint(db, ctx, id);
  const { current, previous } = await secretRows(db, endpoint.id, ctx.deps.now());
  if (!current) throw new Error(`endpoint ${endpoint.id} has no current secret`);
  return {
    secret: verificationKey(keyring.decrypt(current.keyId, current.ciphertext)),
    createdAt: current.createdAt.toISOString(),
    previous: previous.map((p) => ({
      createdAt: p.createdAt.toISOString(),
      expiresAt: (p.expiresAt ?? p.createdAt).toISOString(),
    })),
  };
}
