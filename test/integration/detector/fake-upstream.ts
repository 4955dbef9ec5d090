import { readFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";

/** The provider's response shapes (copied from the shared fixtures). */
export function fixture(name: "trading-signals" | "tm-grade" | "fundamental-grade"): {
  success: boolean;
  message: string;
  length: number;
  data: Record<string, unknown>[];
} {
  return JSON.parse(readFileSync(new URL(`./fixtures/${name}.json`, import.meta.url), "utf8"));
}

export type UpstreamRequest = {
  at: number;
  path: string;
  page: number;
  limit: number;
  apiKey: string | undefined;
  query: URLSearchParams;
};
export type UpstreamReply = { status?: number; headers?: Record<string, string>; body: string };
export type UpstreamHandler = (req: UpstreamRequest, nth: number) => UpstreamReply;

/** An envelope of rows, as the provider sends it. */
export function envelope(data: unknown[], extra: Record<string, unknown> = {}): UpstreamReply {
  return {
    body: JSON.stringify({
      success: true,
      message: "Data fetched successfully",
      length: data.length,
      data,
      ...extra,
    }),
  };
}

/**
 * A local stand-in for the upstream data API: answers per path with the current handler and
 * records every request (time, page, key). Unknown paths get an empty page.
 */
export async function startFakeUpstream() {
  const requests: UpstreamRequest[] = [];
  let handlers: Record<string, UpstreamHandler> = {};
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    const r: UpstreamRequest = {
      at: Date.now(),
      path: url.pathname,
      page: Number(url.searchParams.get("page")),
      limit: Number(url.searchParams.get("limit")),
      apiKey: typeof req.headers["x-api-key"] === "string" ? req.headers["x-api-key"] : undefined,
      query: url.searchParams,
    };
    const nth = requests.filter((x) => x.path === r.path).length;
    requests.push(r);
    const h = handlers[url.pathname];
    const reply = h ? h(r, nth) : envelope([]);
    res.writeHead(reply.status ?? 200, { "content-type": "application/json", ...(reply.headers ?? {}) });
    res.end(reply.body);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/v2`,
    requests,
    /** Replaces the handlers (keyed by path, e.g. `/v2/tm-grade`) and clears the request log. */
    reset(next: Record<string, UpstreamHandler>) {
      handlers = next;
      requests.length = 0;
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
