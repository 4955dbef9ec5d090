import type { EndpointRecovery } from "../../../db/schema/index.ts";

export type RecoveryView = {
  id: string;
  endpointId: string;
  since: string;
  status: EndpointRecovery["status"];
  total: number | null;
  redriven: number;
  error: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
};

export function presentRecovery(r: EndpointRecovery): RecoveryView {
  return {
    id: r.id,
    endpointId: r.endpointId,
    since: r.since.toISOString(),
    status: r.status,
    total: r.total,
    redriven: r.redriven,
    error: r.error,
    createdAt: r.createdAt.toISOString(),
    startedAt: r.startedAt?.toISOString() ?? null,
    finishedAt: r.finishedAt?.toISOString() ?? null,
  };
}
