import http from "node:http";
import type { AddressInfo } from "node:net";

export type Received = {
  at: number;
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  /** The raw bytes received. */
  body: Buffer;
};

export type Reply =
  | { status?: number; headers?: Record<string, string>; body?: string }
  | "hang"
  | "reset"
  /** Write the response yourself (streaming, huge bodies). */
  | ((res: http.ServerResponse) => void);

/**
 * A real HTTP receiver on 127.0.0.1 that records raw request bytes. `respond` decides each answer
 * (default 200); "hang" never answers, "reset" destroys the socket. `port` 0 picks a free one.
 */
export async function startReceiver(
  respond: (req: Received, index: number) => Reply | Promise<Reply> = () => ({ status: 200 }),
  host = "127.0.0.1",
  port = 0,
): Promise<{
  url: string;
  port: number;
  requests: Received[];
  waitFor: (n: number, timeoutMs?: number) => Promise<Received[]>;
  close: () => Promise<void>;
}> {
  const requests: Received[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", async () => {
      const rec: Received = {
        at: Date.now(),
        method: req.method ?? "",
        url: req.url ?? "",
        headers: req.headers,
        body: Buffer.concat(chunks),
      };
      const index = requests.length;
      requests.push(rec);
      for (const w of [...waiters]) if (requests.length >= w.n) w.resolve();
      const reply = await respond(rec, index);
      if (reply === "hang") return;
      if (reply === "reset") {
        req.socket.destroy();
        return;
      }
      if (typeof reply === "function") return reply(res);
      res.writeHead(reply.status ?? 200, reply.headers ?? {});
      res.end(reply.body ?? "");
    });
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((r) => server.listen(port, host, r));
  const bound = (server.address() as AddressInfo).port;
  const hostPart = host.includes(":") ? `[${host}]` : host;
  return {
    url: `http://${hostPart}:${bound}/hook`,
    port: bound,
    requests,
    waitFor: (n, timeoutMs = 10_000) =>
      new Promise((resolve, reject) => {
        if (requests.length >= n) return resolve(requests);
        const t = setTimeout(
          () => reject(new Error(`receiver got ${requests.length} of ${n} requests in ${timeoutMs} ms`)),
          timeoutMs,
        );
        waiters.push({
          n,
          resolve: () => {
            clearTimeout(t);
            resolve(requests);
          },
        });
      }),
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
