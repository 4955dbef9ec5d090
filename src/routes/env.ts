import type { Principal } from "../auth/principal.ts";
import type { Deps } from "../deps.ts";

/** Hono context variables set by the middleware chain in app.ts. */
export type AppEnv = {
  Variables: {
    deps: Deps;
    requestId: string;
    clientIp: string | null;
    principal: Principal;
  };
};
