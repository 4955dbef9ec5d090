import { readFileSync } from "node:fs";
import { expect, test } from "vitest";
import { NODE_FLAGS, PROCESS_ENV } from "../../src/cli/node-flags.ts";

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), "utf8");

test("every way of starting Signalpost passes the same V8 flags", () => {
  const pkg = JSON.parse(read("package.json")) as { scripts: Record<string, string> };
  const starts = {
    "npm start": pkg.scripts.start ?? "",
    "npm run signalpost": pkg.scripts.signalpost ?? "",
    "bin/signalpost.js": read("bin/signalpost.js").split("\n")[0] ?? "",
    Dockerfile:
      read("Dockerfile")
        .split("\n")
        .find((l) => l.startsWith("ENTRYPOINT")) ?? "",
  };
  for (const [where, line] of Object.entries(starts))
    for (const flag of NODE_FLAGS) expect(line, where).toContain(flag);
});

test("the Docker image starts every process with PROCESS_ENV", () => {
  const env = read("Dockerfile")
    .split("\n")
    .filter((l) => l.startsWith("ENV "))
    .join(" ");
  for (const [k, v] of Object.entries(PROCESS_ENV)) expect(env).toContain(`${k}=${v}`);
});
