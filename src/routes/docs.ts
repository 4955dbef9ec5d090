import type { Context } from "hono";

/** A rendered API reference (Scalar, loaded from a pinned CDN URL) under a strict CSP. */
export function docsPage(c: Context): Response {
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Signalpost API</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><script id="api-reference" data-url="/openapi.json"></script>
<script src="https://cdn.jsdelivr.net/npm/@scalar/api-reference@1.25.0"></script></body></html>`;
  return c.html(html, 200, {
    "content-security-policy":
      "default-src 'none'; script-src https://cdn.jsdelivr.net 'unsafe-eval'; style-src 'unsafe-inline' https://cdn.jsdelivr.net; font-src https://cdn.jsdelivr.net data:; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
  });
}
