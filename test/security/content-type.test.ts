import http from "node:http";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { SCOPES } from "../../src/auth/principal.ts";
import { generateOpenApi } from "../../src/cli/openapi.ts";
import { MAX_JSON_DEPTH } from "../../src/routes/common.ts";
import { startTestApp, type TestApp } from "../helpers/app.ts";
import { createKey, type TestKey } from "../helpers/security.ts";

/**
 * Request bodies on every `/v1` operation of the generated OpenAPI document: anything but JSON
 * gets 415, and broken JSON (malformed, BOM, invalid UTF-8, absurd nesting, oversized) a precise
 * 400/413 problem — never a 500, never a hang. Requests go over real HTTP, one connection each,
 * so the raw bytes and headers are exactly what a client sent.
 */

type Operation = { method: string; path: string; body: "none" | "optional" | "required" };

// biome-ignore lint/suspicious/noExplicitAny: the OpenAPI document is walked structurally
type Json = any;
const DOC: Json = JSON.parse(generateOpenApi());
const OPERATIONS: Operation[] = Object.entries<Json>(DOC.paths)
  .filter(([path]) => path.startsWith("/v1/"))
  .flatMap(([path, ops]) =>
    Object.entries<Json>(ops).map(([method, op]) => ({
      method: method.toUpperCase(),
      // Any id of the right shape will do: every body check runs before a lookup.
      path: path.replace(/\{[^}]+\}/g, "zz_01JF3ZQ4C8M3W5V6X7Y8Z9A0B1"),
      body: !op.requestBody ? "none" : op.requestBody.required ? "required" : "optional",
    })),
  );
const WITH_BODY = OPERATIONS.filter((op) => op.body !== "none");
const WRITES_WITHOUT_BODY = OPERATIONS.filter(
  (op) => op.body === "none" && ["POST", "PUT", "PATCH"].includes(op.method),
);

let t: TestApp;
let operator: TestKey;
beforeAll(async () => {
  t = await startTestApp({ listen: true, workers: false });
  operator = await createKey(t.deps.db, { role: "operator", scopes: SCOPES });
});
afterAll(async () => {
  await t?.close();
});

type Raw = { status: number; contentType: string | undefined; text: string; body: Json };

/** One request on its own connection; rejects if no response arrives within 5 s (a hang). */
function send(
  method: string,
  path: string,
  opts: { headers?: Record<string, string>; body?: Buffer | string; chunked?: boolean } = {},
): Promise<Raw> {
  const headers: Record<string, string> = { authorization: `Bearer ${operator.token}`, ...opts.headers };
  if (opts.body !== undefined && !opts.chunked)
    headers["content-length"] = String(Buffer.byteLength(opts.body));
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = http.request(`${t.baseUrl}${path}`, { method, headers, agent: false }, (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        let body: Json = null;
        try {
          body = JSON.parse(text);
        } catch {
          body = text;
        }
        resolve({ status: res.statusCode ?? 0, contentType: res.headers["content-type"], text, body });
      });
    });
    req.setTimeout(5_000, () => req.destroy(new Error(`${method} ${path}: no response within 5 s`)));
    // The server may answer (413) and close before the whole body is written: not a failure.
    req.on("error", (err) => {
      if (!answered) reject(err);
    });
    if (opts.body !== undefined && opts.chunked) {
      const b = Buffer.from(opts.body);
      const mid = Math.floor(b.length / 2);
      req.write(b.subarray(0, mid));
      req.write(b.subarray(mid));
    } else if (opts.body !== undefined) req.write(opts.body);
    req.end();
  });
}

const JSON_CT = { "content-type": "application/json" };

/** The problem a case must produce (`instance` is the request path, checked separately). */
type Want = { status: number; type: string; title: string; detail: string };
const unsupported: Want = {
  status: 415,
  type: "/problems/unsupported_media_type",
  title: "Unsupported media type",
  detail: "request bodies must be JSON: send Content-Type: application/json",
};
const badRequest = (detail: string): Want => ({
  status: 400,
  type: "/problems/bad_request",
  title: "Bad request",
  detail,
});
/** Hono's own wording for an empty JSON body, used for every malformed one. */
const malformed = () => badRequest("Malformed JSON in request body");

function mismatch(label: string, op: Operation, res: Raw, want: Want): string | null {
  const got = { status: res.status, type: res.body?.type, title: res.body?.title, detail: res.body?.detail };
  const ok =
    JSON.stringify(got) === JSON.stringify(want) &&
    res.contentType === "application/problem+json" &&
    res.body?.instance === op.path;
  return ok
    ? null
    : `${op.method} ${op.path} ${label}: want ${JSON.stringify(want)}, got ${res.contentType} ${res.text.slice(0, 300)}`;
}

test("the document lists /v1 operations with a JSON request body, and writes without one", () => {
  expect(WITH_BODY.length).toBeGreaterThan(5);
  expect(WITH_BODY.some((op) => op.body === "optional")).toBe(true);
  expect(WRITES_WITHOUT_BODY.length).toBeGreaterThan(0);
  const nonJson = Object.entries<Json>(DOC.paths)
    .filter(([path]) => path.startsWith("/v1/"))
    .flatMap(([path, ops]) => Object.entries<Json>(ops).map(([m, op]) => [`${m} ${path}`, op]))
    .filter(([, op]) => op.requestBody && Object.keys(op.requestBody.content).join() !== "application/json");
  expect(nonJson.map(([name]) => name)).toEqual([]);
});

describe("a body that is not JSON gets 415 on every /v1 operation that takes one", () => {
  const json = JSON.stringify({ name: "x" });
  const cases: [string, Record<string, string>, string][] = [
    ["text/plain", { "content-type": "text/plain" }, json],
    ["text/plain; charset=utf-8", { "content-type": "text/plain; charset=utf-8" }, json],
    ["form-urlencoded", { "content-type": "application/x-www-form-urlencoded" }, "name=x"],
    [
      "multipart",
      { "content-type": "multipart/form-data; boundary=sp" },
      '--sp\r\nContent-Disposition: form-data; name="name"\r\n\r\nx\r\n--sp--\r\n',
    ],
    ["no Content-Type", {}, json],
    ["application/xml", { "content-type": "application/xml" }, "<name>x</name>"],
    ["application/jsonp", { "content-type": "application/jsonp" }, json],
    ["application/json-seq", { "content-type": "application/json-seq" }, json],
    ["empty Content-Type", { "content-type": "" }, json],
  ];
  test.each(WITH_BODY)("$method $path", async (op) => {
    const problems: string[] = [];
    for (const [label, headers, body] of cases) {
      const m = mismatch(label, op, await send(op.method, op.path, { headers, body }), unsupported);
      if (m) problems.push(m);
    }
    expect(problems).toEqual([]);
  });
});

describe("broken JSON gets a precise 400/413 on every /v1 operation that takes a body", () => {
  const deepArray = `${"[".repeat(10_000)}${"]".repeat(10_000)}`;
  const deepObject = `${'{"a":'.repeat(10_000)}1${"}".repeat(10_000)}`;
  const justTooDeep = `{"a":${"[".repeat(MAX_JSON_DEPTH)}${"]".repeat(MAX_JSON_DEPTH)}}`;
  const tooLarge = (): Want => ({
    status: 413,
    type: "/problems/payload_too_large",
    title: "Payload too large",
    detail: `request bodies are limited to ${t.deps.config.MAX_BODY_BYTES} bytes`,
  });
  const cases: [string, Buffer | string, () => Want, boolean?][] = [
    ["empty body", "", malformed],
    ["truncated JSON", '{"a":', malformed],
    ["trailing garbage", '{"a":1} x', malformed],
    ["single quotes", "{'a':1}", malformed],
    [
      "UTF-8 byte order mark",
      Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"name":"x"}')]),
      () => badRequest("the request body starts with a byte order mark; send JSON without one"),
    ],
    [
      "invalid UTF-8 inside a string",
      Buffer.concat([Buffer.from('{"name":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]),
      () => badRequest("the request body is not valid UTF-8"),
    ],
    [
      "overlong UTF-8 encoding of '/'",
      Buffer.concat([Buffer.from('{"name":"'), Buffer.from([0xc0, 0xaf]), Buffer.from('"}')]),
      () => badRequest("the request body is not valid UTF-8"),
    ],
    ["UTF-16LE JSON", Buffer.from('{"name":"x"}', "utf16le"), malformed],
    [
      "10,000 nested arrays",
      deepArray,
      () => badRequest(`the request body nests deeper than ${MAX_JSON_DEPTH} levels`),
    ],
    [
      "10,000 nested objects",
      deepObject,
      () => badRequest(`the request body nests deeper than ${MAX_JSON_DEPTH} levels`),
    ],
    [
      `${MAX_JSON_DEPTH + 1} levels`,
      justTooDeep,
      () => badRequest(`the request body nests deeper than ${MAX_JSON_DEPTH} levels`),
    ],
    ["a 2 MB body", JSON.stringify({ name: "x".repeat(2_000_000) }), tooLarge],
    ["a 2 MB body, chunked", JSON.stringify({ name: "x".repeat(2_000_000) }), tooLarge, true],
    [
      "invalid UTF-8, chunked",
      Buffer.concat([Buffer.from('{"name":"'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"}')]),
      () => badRequest("the request body is not valid UTF-8"),
      true,
    ],
  ];
  test.each(WITH_BODY)("$method $path", async (op) => {
    const problems: string[] = [];
    for (const [label, body, want, chunked] of cases) {
      const res = await send(op.method, op.path, { headers: JSON_CT, body, chunked });
      const m = mismatch(label, op, res, want());
      if (m) problems.push(m);
    }
    expect(problems).toEqual([]);
  });

  test.each(WITH_BODY)(
    "$method $path: a JSON array, string, number or null is a validation error",
    async (op) => {
      const problems: string[] = [];
      for (const body of ["[]", '[{"name":"x"}]', '"x"', "42", "null", "true"]) {
        const res = await send(op.method, op.path, { headers: JSON_CT, body });
        const ok =
          res.status === 400 &&
          res.body?.type === "/problems/validation_failed" &&
          res.body?.detail === "the request body is invalid" &&
          res.body?.errors?.[0]?.path === "body" &&
          res.body?.errors?.[0]?.code === "invalid_type";
        if (!ok) problems.push(`${body}: ${res.status} ${res.text.slice(0, 300)}`);
      }
      expect(problems).toEqual([]);
    },
  );
});

test("after a 413 a keep-alive client can go on using its connection pool", async () => {
  // fetch pools keep-alive sockets; the unread rest of an oversized body must not break the next call.
  const headers = { authorization: `Bearer ${operator.token}`, ...JSON_CT };
  const outcomes: string[] = [];
  for (let round = 0; round < 4; round++) {
    for (const name of ["x".repeat(2_000_000), `keep-alive ${round}`]) {
      const res = await fetch(`${t.baseUrl}/v1/tenants`, {
        method: "POST",
        headers,
        body: JSON.stringify({ name }),
      }).catch((err: Error) => err);
      outcomes.push(
        res instanceof Response
          ? `${res.status}${res.status === 413 ? ` ${res.headers.get("connection")}` : ""}`
          : String(res.cause ?? res),
      );
      if (res instanceof Response) await res.arrayBuffer();
    }
  }
  expect(outcomes).toEqual(Array.from({ length: 4 }, () => ["413 close", "201"]).flat());
});

describe("JSON media types and bodyless requests still work", () => {
  test.each([
    "application/json",
    "application/json; charset=utf-8",
    "Application/JSON",
    "application/vnd.signalpost+json",
    "application/merge-patch+json",
  ])("POST /v1/tenants accepts %s", async (contentType) => {
    const res = await send("POST", "/v1/tenants", {
      headers: { "content-type": contentType },
      body: JSON.stringify({ name: `ct ${contentType}` }),
    });
    expect(res.status, res.text).toBe(201);
    expect(res.body.name).toBe(`ct ${contentType}`);
  });

  test(`nesting of exactly ${MAX_JSON_DEPTH} levels is accepted, stored and read back`, async () => {
    // The body object is level 1; `data` is a chain of objects from level 2 down to `depth`.
    const chain = (depth: number) => `${'{"a":'.repeat(depth - 1)}1${"}".repeat(depth - 1)}`;
    // `data` (level 2) carries what the webhook.test schema requires, and the chain below it.
    const event = (depth: number) =>
      `{"type":"webhook.test","data":{"endpointId":"ep_x","message":"m","a":${chain(depth - 1)}}}`;
    const res = await send("POST", "/v1/events", { headers: JSON_CT, body: event(MAX_JSON_DEPTH) });
    expect(res.status, res.text).toBe(202);
    const got = await send("GET", `/v1/events/${res.body.id}`);
    expect(got.status, got.text).toBe(200);
    expect(JSON.stringify(got.body)).toContain(chain(MAX_JSON_DEPTH - 1));
    const over = await send("POST", "/v1/events", { headers: JSON_CT, body: event(MAX_JSON_DEPTH + 1) });
    expect(over.status, over.text).toBe(400);
    expect(over.body.detail).toBe(`the request body nests deeper than ${MAX_JSON_DEPTH} levels`);
  });

  test("brackets and quotes inside strings do not count as nesting", async () => {
    const name = `${"[{".repeat(40)}\\"${"]}".repeat(40)}`;
    const res = await send("POST", "/v1/tenants", { headers: JSON_CT, body: `{"name":"${name}"}` });
    expect(res.status, res.text).toBe(201);
    expect(res.body.name).toBe(`${"[{".repeat(40)}"${"]}".repeat(40)}`);
  });

  test.each(WRITES_WITHOUT_BODY)("$method $path: no body and no Content-Type is not refused", async (op) => {
    for (const headers of [{}, { "content-type": "text/plain" }, JSON_CT]) {
      const res = await send(op.method, op.path, { headers });
      expect(res.status, `${JSON.stringify(headers)} ${res.text}`).not.toBe(415);
      expect(res.status, res.text).toBeLessThan(500);
      expect(res.body?.type, res.text).not.toBe("/problems/bad_request");
    }
  });

  test.each(WITH_BODY.filter((op) => op.body === "optional"))(
    "$method $path: an optional body may be left out entirely",
    async (op) => {
      const res = await send(op.method, op.path, {});
      // The made-up id is not found: the request got past every body check.
      expect(res.status, res.text).toBe(404);
      expect(res.body.type).toBe("/problems/not_found");
    },
  );

  test("the 415 needs credentials first: an anonymous text/plain body gets 401", async () => {
    const res = await send("POST", "/v1/tenants", {
      headers: { authorization: "", "content-type": "text/plain" },
      body: "hello",
    });
    expect(res.status).toBe(401);
    expect(res.body.type).toBe("/problems/unauthorized");
  });
});

describe("/oauth/token keeps its own media types", () => {
  test("a form-encoded client credentials request gets a token", async () => {
    const res = await send("POST", "/oauth/token", {
      headers: { authorization: "", "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "client_credentials",
        client_id: operator.id,
        client_secret: operator.token,
      }).toString(),
    });
    expect(res.status, res.text).toBe(200);
    expect(res.body.token_type).toBe("Bearer");
  });

  test("text/plain gets an RFC 6749 invalid_request, not a problem", async () => {
    const res = await send("POST", "/oauth/token", {
      headers: { authorization: "", "content-type": "text/plain" },
      body: "grant_type=client_credentials",
    });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe("invalid_request");
  });
});
