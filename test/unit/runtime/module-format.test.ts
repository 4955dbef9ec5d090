import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { formatOf } from "../../../src/runtime/module-format.ts";

const run = promisify(execFile);
const root = new URL("../../../", import.meta.url);

describe("module format cache", () => {
  it("reads a file's format from its extension and nearest package.json", () => {
    // drizzle-orm is "type": "module"; pino has no "type" (commonjs); hono nests a commonjs dist/cjs/.
    expect(formatOf(new URL("node_modules/drizzle-orm/entity.js", root))).toBe("module");
    expect(formatOf(new URL("node_modules/pino/pino.js", root))).toBe("commonjs");
    expect(formatOf(new URL("node_modules/hono/dist/cjs/index.js", root))).toBe("commonjs");
    expect(formatOf(new URL("node_modules/hono/dist/index.js", root))).toBe("module");
    expect(formatOf(new URL("node_modules/postgres/src/index.js", root))).toBe("module");
    expect(formatOf(new URL("node_modules/whatever/x.mjs", root))).toBe("module");
    expect(formatOf(new URL("node_modules/whatever/x.cjs", root))).toBe("commonjs");
    expect(formatOf(new URL("node_modules/drizzle-orm/package.json", root))).toBeNull();
    expect(formatOf(new URL("node_modules/drizzle-orm/entity.js?x=1", root))).toBeNull();
  });

  it("loads the whole service to the same modules as Node's own resolver", async () => {
    // Two fresh processes import every entry point; the sets of loaded module URLs must match.
    const script = (hook: boolean) => `
      ${hook ? `const { registerModuleFormatCache } = await import(${JSON.stringify(new URL("src/runtime/module-format.ts", root).href)}); registerModuleFormatCache();` : ""}
      const { registerHooks } = await import("node:module");
      const seen = new Set();
      registerHooks({ load(url, ctx, next) { const r = next(url, ctx); seen.add(url + " " + r.format); return r; } });
      for (const f of ["src/cli/serve.ts", "src/jobs/workers.ts", "src/app.ts", "src/cli/listen.ts"])
        await import(new URL(f, ${JSON.stringify(root.href)}).href);
      process.stdout.write(JSON.stringify([...seen].sort()));`;
    const load = async (hook: boolean) => {
      const { stdout } = await run(process.execPath, ["--input-type=module", "-e", script(hook)], {
        maxBuffer: 64 * 1024 * 1024,
      });
      return JSON.parse(stdout) as string[];
    };
    const [plain, cached] = await Promise.all([load(false), load(true)]);
    expect(plain.length).toBeGreaterThan(500);
    expect(cached).toEqual(plain);
  });
});
