import { readFileSync } from "node:fs";
import { expect, test } from "vitest";
import { NODE_FLAGS } from "../../src/cli/node-flags.ts";

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
