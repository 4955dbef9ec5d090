/**
 * Custom endpoint headers may not override what signing and transport depend on. Checked when an
 * endpoint is saved and again when a request is built.
 */
const RESERVED = new Set([
  "host",
  "content-length",
  "content-type",
  "content-encoding",
  "transfer-encoding",
  "connection",
  "keep-alive",
  "upgrade",
  "te",
  "trailer",
  "expect",
  "user-agent",
  "proxy-authorization",
  "proxy-connection",
  "cookie",
]);

export function isReservedHeader(name: string): boolean {
  const n = name.toLowerCase();
  return RESERVED.has(n) || n.startsWith("webhook-") || n.startsWith("svix-") || n.startsWith(":");
}

/** Header names whose values are masked when read back. */
export function isSensitiveHeader(name: string): boolean {
  const n = name.toLowerCase();
  return (
    n === "authorization" ||
    n.endsWith("-key") ||
    n.endsWith("-token") ||
    n.endsWith("-secret") ||
    n === "x-api-key"
  );
}

export const HEADER_NAME_RE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$/;
// Visible ASCII and spaces/tabs only: no CR/LF (header injection), bounded length.
export const HEADER_VALUE_RE = /^[\t\x20-\x7e]{0,1000}$/;

export const USER_AGENT = "Signalpost-Webhooks/1.0 (+https://www.standardwebhooks.com)";
