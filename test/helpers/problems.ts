import { expect } from "vitest";
import type { TestResponse } from "./app.ts";

/** Asserts an RFC 9457 problem: HTTP status, content type, `type` code, and (optionally) the exact field paths. */
export function expectProblem(res: TestResponse, status: number, code: string, paths?: string[]): void {
  expect(res.status, res.text).toBe(status);
  expect(res.headers.get("content-type"), res.text).toContain("application/problem+json");
  expect(res.body, res.text).toMatchObject({ status, type: `/problems/${code}` });
  if (paths) expect(res.body.errors?.map((e: { path: string }) => e.path) ?? []).toEqual(paths);
}

/** The exact RFC 9457 body expected for a problem (request id and instance vary per request). */
export function problem(status: number, code: string, title: string, detail: string, errors?: unknown[]) {
  return {
    type: `/problems/${code}`,
    title,
    status,
    detail,
    instance: expect.any(String),
    requestId: expect.any(String),
    ...(errors ? { errors } : {}),
  };
}

/** One row of a bad-input table: a JSON body (or raw text) and the problem it must produce. */
export type ErrorRow = {
  name: string;
  body?: unknown;
  raw?: string;
  status: number;
  code: string;
  paths?: string[];
};
