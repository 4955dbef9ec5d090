import http from "node:http";
import https from "node:https";
import { isIP, type LookupFunction } from "node:net";

export type SendRequest = {
  url: URL;
  /** The address the SSRF guard checked; the socket connects here and nowhere else. */
  address: string;
  family: 4 | 6;
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
  responseCapBytes: number;
  /** Aborts the request (worker shutdown): the result is an `aborted` error. */
  signal?: AbortSignal;
};

export type ErrorClass =
  | "timeout"
  | "connection_refused"
  | "dns"
  | "reset"
  | "tls"
  | "unreachable"
  | "network"
  /** The request could not be built (e.g. a stored custom header value Node refuses). */
  | "invalid_request"
  /** This worker gave the request up (shutdown); says nothing about the receiver. */
  | "aborted";

export type SendResult =
  | {
      kind: "response";
      status: number;
      headers: Record<string, string>;
      body: string;
      truncated: boolean;
      durationMs: number;
    }
  | { kind: "error"; errorClass: ErrorClass; message: string; durationMs: number };

// Keep-alive pools shared by every delivery in the process. Sockets are keyed by host and port;
// each was opened to an address the guard checked.
const agentOptions = { keepAlive: true, maxSockets: 256, maxFreeSockets: 64, scheduling: "lifo" as const };
const httpAgent = new http.Agent(agentOptions);
const httpsAgent = new https.Agent(agentOptions);

export const TRUNCATION_MARKER = "\n…[truncated]";

/**
 * One HTTP POST with a hard deadline covering connect, headers and body. Redirects are never
 * followed (node:http does not follow them). At most `responseCapBytes` of the body are kept; the
 * rest is not read (the socket is destroyed), so a huge or endless response costs nothing.
 *
 * A request that went out on a kept-alive socket and was reset before any answer is sent once
 * more, on a new connection, within the same deadline: the receiver closed that idle socket just
 * as we reused it (a receiver with `Keep-Alive: timeout=5` and a burst ~5 s after the previous
 * one; seen as 38 of 151 first attempts failing with ECONNRESET). This is Node's documented
 * pattern (`request.reusedSocket`); receivers deduplicate on `webhook-id` in any case.
 */
export async function sendWebhook(req: SendRequest): Promise<SendResult> {
  const started = performance.now();
  const first = await sendOnce(req, { started, timeoutMs: req.timeoutMs, pooled: true });
  const left = req.timeoutMs - (performance.now() - started);
  if (!first.staleSocket || req.signal?.aborted || left < 1) return first.result;
  return (await sendOnce(req, { started, timeoutMs: Math.floor(left), pooled: false })).result;
}

function sendOnce(
  req: SendRequest,
  opts: { started: number; timeoutMs: number; pooled: boolean },
): Promise<{ result: SendResult; staleSocket: boolean }> {
  const { started } = opts;
  const elapsed = () => Math.round(performance.now() - started);
  const pinned: LookupFunction = (_hostname, options, callback) => {
    if ((options as { all?: boolean }).all) {
      (callback as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, [
        { address: req.address, family: req.family },
      ]);
    } else {
      callback(null, req.address, req.family);
    }
  };
  const isHttps = req.url.protocol === "https:";
  const body = Buffer.from(req.body, "utf8");
  const hostname = req.url.hostname.replace(/^\[|\]$/g, "");
  return new Promise((resolve) => {
    let settled = false;
    const finish = (r: SendResult, staleSocket = false) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      req.signal?.removeEventListener("abort", onAbort);
      resolve({ result: r, staleSocket });
    };
    let client: http.ClientRequest;
    try {
      client = (isHttps ? https : http).request({
        method: "POST",
        protocol: req.url.protocol,
        hostname,
        port: req.url.port || (isHttps ? 443 : 80),
        path: `${req.url.pathname}${req.url.search}`,
        headers: { ...req.headers, "content-length": String(body.length) },
        // The resend after a stale socket gets a connection of its own (agent: false).
        agent: opts.pooled ? (isHttps ? httpsAgent : httpAgent) : false,
        lookup: pinned,
        // SNI carries names only (RFC 6066); an IP literal gets none.
        ...(isHttps && !isIP(hostname) ? { servername: hostname } : {}),
      });
    } catch (err) {
      // Node validates header names and values synchronously; a bad stored value must become a
      // recorded failed attempt, not an exception that makes the job retry at the queue level.
      const e = err as NodeJS.ErrnoException;
      resolve({
        result: { kind: "error", errorClass: "invalid_request", message: sanitize(e), durationMs: elapsed() },
        staleSocket: false,
      });
      return;
    }
    function onAbort() {
      finish({
        kind: "error",
        errorClass: "aborted",
        message: "the worker gave the request up (shutdown)",
        durationMs: elapsed(),
      });
      client.destroy();
    }
    let response: http.IncomingMessage | null = null;
    const chunks: Buffer[] = [];
    let kept = 0;
    let truncated = false;
    const settleResponse = () => {
      if (!response) return;
      const text = storable(Buffer.concat(chunks).toString("utf8"));
      finish({
        kind: "response",
        status: response.statusCode ?? 0,
        headers: flattenHeaders(response.headers),
        body: truncated ? text + TRUNCATION_MARKER : text,
        truncated,
        durationMs: elapsed(),
      });
    };
    const deadline = setTimeout(() => {
      if (response) {
        // Headers arrived in time; the body is slow. Keep what we have; the status decides.
        truncated = true;
        settleResponse();
        client.destroy();
      } else {
        finish({
          kind: "error",
          errorClass: "timeout",
          message: `no response within ${req.timeoutMs} ms`,
          durationMs: elapsed(),
        });
        client.destroy();
      }
    }, opts.timeoutMs);
    client.on("response", (res) => {
      response = res;
      res.on("data", (chunk: Buffer) => {
        if (kept >= req.responseCapBytes) {
          truncated = true;
          settleResponse();
          res.destroy();
          return;
        }
        const room = req.responseCapBytes - kept;
        const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
        chunks.push(part);
        kept += part.length;
        if (chunk.length > room) {
          truncated = true;
          settleResponse();
          res.destroy();
        }
      });
      res.on("end", settleResponse);
      res.on("error", settleResponse);
      res.on("close", settleResponse);
    });
    client.on("error", (err: NodeJS.ErrnoException) => {
      if (response) return settleResponse();
      const errorClass = classify(err);
      finish(
        { kind: "error", errorClass, message: sanitize(err), durationMs: elapsed() },
        errorClass === "reset" && client.reusedSocket,
      );
    });
    if (req.signal?.aborted) return onAbort();
    req.signal?.addEventListener("abort", onAbort, { once: true });
    client.end(body);
  });
}

function flattenHeaders(h: http.IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h))
    if (v !== undefined) out[k] = storable(Array.isArray(v) ? v.join(", ") : v);
  return out;
}

/**
 * PostgreSQL text and jsonb cannot hold U+0000; a binary response would make recording the attempt
 * fail (and the job retry, re-sending the webhook). NULs become U+FFFD, like other undecodable bytes.
 */
function storable(text: string): string {
  return text.includes("\u0000") ? text.replaceAll("\u0000", "\uFFFD") : text;
}

function classify(err: NodeJS.ErrnoException): ErrorClass {
  const code = err.code ?? "";
  if (code === "ECONNREFUSED") return "connection_refused";
  if (code === "ENOTFOUND" || code === "EAI_AGAIN" || code === "EAI_FAIL") return "dns";
  if (
    code === "ECONNRESET" ||
    code === "EPIPE" ||
    code === "ECONNABORTED" ||
    /socket hang up/i.test(err.message)
  )
    return "reset";
  if (code === "ETIMEDOUT") return "timeout";
  if (code === "EHOSTUNREACH" || code === "ENETUNREACH") return "unreachable";
  if (
    code.startsWith("ERR_TLS") ||
    code.startsWith("ERR_SSL") ||
    /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|DEPTH_ZERO/.test(code)
  )
    return "tls";
  return "network";
}

/** Error text for the attempt log: the code and message, never the request. */
function sanitize(err: NodeJS.ErrnoException): string {
  return `${err.code ?? "ERROR"}: ${err.message}`.slice(0, 500);
}
