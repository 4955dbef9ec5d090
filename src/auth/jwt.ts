import type { Deps } from "../deps.ts";
import { UnauthorizedError } from "../errors/index.ts";
import type { Principal } from "./principal.ts";

/** Verifies an OAuth access token. (Filled in by the OAuth work; until then no JWT is accepted.) */
export async function verifyAccessToken(
  _deps: Deps,
  _token: string,
  _clientIp: string | null,
): Promise<Principal> {
  throw new UnauthorizedError("invalid credentials");
}
