import http from "node:http";
import { parseArgs } from "node:util";
import { verifyWebhook } from "../delivery/verify.ts";

/**
 * `signalpost listen --secret whsec_…|whpk_… [--port 4000] [--host 127.0.0.1] [--status 200]`
 * A local receiver (like `stripe listen`): verifies each delivery's signature (`v1,` with a
 * `whsec_` secret, `v1a,` with a `whpk_` public key) and prints it. --secret may repeat.
 * Without --secret it reads WEBHOOK_SECRET from the environment.
 */
export async function runListen(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      port: { type: "string", default: "4000" },
      host: { type: "string", default: "127.0.0.1" },
      secret: { type: "string", multiple: true },
      status: { type: "string", default: "200" },
      quiet: { type: "boolean", default: false },
    },
  });
  // The secret can come from the environment so it stays out of shell history and `ps`.
  // biome-ignore lint/complexity/useLiteralKeys: process.env access is allowed only in config and CLI entry points
  const envSecret = process.env["WEBHOOK_SECRET"];
  const secrets = values.secret ?? (envSecret ? [envSecret] : []);
  if (secrets.length === 0) {
    console.error(
      "listen: pass --secret whsec_… (the endpoint's signing secret) or whpk_… (its v1a public key), or set WEBHOOK_SECRET",
    );
    return 2;
  }
  const status = Number(values.status);
  let count = 0;
  let failures = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const h = (n: string) => (typeof req.headers[n] === "string" ? (req.headers[n] as string) : undefined);
      const result = verifyWebhook({
        secrets,
        id: h("webhook-id"),
        timestamp: h("webhook-timestamp"),
        signature: h("webhook-signature"),
        body,
      });
      count++;
      if (!result.ok) failures++;
      const line = {
        n: count,
        verified: result.ok,
        ...(result.ok ? {} : { reason: result.reason }),
        id: h("webhook-id"),
        timestamp: h("webhook-timestamp"),
        body: values.quiet ? undefined : safeJson(body),
      };
      process.stdout.write(`${JSON.stringify(line)}\n`);
      res.writeHead(result.ok ? status : 401, { "content-type": "text/plain" });
      res.end(result.ok ? "ok" : "signature verification failed");
    });
  });
  await new Promise<void>((r) => server.listen(Number(values.port), values.host, r));
  process.stderr.write(
    `listening on http://${values.host}:${values.port}/ — verifying with ${secrets.length} secret(s)\n`,
  );
  const stop = () => {
    process.stderr.write(`received ${count} deliveries, ${failures} failed verification\n`);
    server.close(() => process.exit(failures ? 1 : 0));
    server.closeAllConnections();
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  return -1;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
