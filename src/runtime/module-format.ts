import { existsSync, readFileSync } from "node:fs";
import { builtinModules, type ModuleFormat, type ResolveFnOutput, registerHooks } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * Works around a cost in Node 24's ES module loader. For every `.js` file it resolves, Node looks
 * up the nearest package.json to learn the file's format (`"type"`), and deserializes that file's
 * fields again on each lookup, parsing its `exports` map afresh. drizzle-orm's package.json is
 * 178 KB and its entry points pull in ~450 files: importing `drizzle-orm/postgres-js` took ~0.5 s
 * and allocated ~160 MB of garbage, and V8 kept the young-generation pages it grew for it, so an
 * idle worker sat at ~310 MB RSS (measured: docs/performance.md).
 *
 * Two caches answer instead, and Node's resolver does everything else unchanged:
 * - a relative import made from inside node_modules is resolved against the importing file, and
 *   its format read from a per-directory cache of the nearest package.json's `"type"` (Node's
 *   rule: `.mjs` module, `.cjs` commonjs, `.js` by the nearest package.json, commonjs without one);
 * - a bare import (`drizzle-orm/pg-core`) made from our own files is resolved by Node once per
 *   installed package directory, subpath and conditions, then answered from that cache (Node would
 *   parse the package's `exports` again for each of the ~60 files that import it).
 * Registered once, before the heavy imports (src/cli/main.ts).
 */
export function registerModuleFormatCache(): void {
  registerHooks({
    resolve(specifier, context, nextResolve) {
      const parent = context.parentURL;
      if (!parent?.startsWith("file:")) return nextResolve(specifier, context);
      const insideDependency = parent.includes("/node_modules/");
      if (insideDependency && (specifier.startsWith("./") || specifier.startsWith("../"))) {
        const url = new URL(specifier, parent);
        const format = formatOf(url);
        if (format) return { url: url.href, format, shortCircuit: true };
      }
      const pkg = insideDependency ? null : packageNameOf(specifier);
      const pkgDir = pkg ? installedPackageDir(dirname(fileURLToPath(parent)), pkg) : null;
      if (!pkgDir) return nextResolve(specifier, context);
      const key = `${pkgDir}\0${specifier}\0${(context.conditions ?? []).join(",")}`;
      const hit = bareResolutions.get(key);
      if (hit) return hit;
      const resolved = nextResolve(specifier, context);
      bareResolutions.set(key, { ...resolved, shortCircuit: true });
      return resolved;
    },
  });
}

const bareResolutions = new Map<string, ResolveFnOutput>();
const packageDirs = new Map<string, string | null>();

/** `drizzle-orm/pg-core` → `drizzle-orm`, `@hono/zod-openapi` → itself; null for builtins, URLs, `#imports`. */
function packageNameOf(specifier: string): string | null {
  if (/^[./#]|^[a-z][a-z0-9+.-]*:/i.test(specifier)) return null;
  const parts = specifier.split("/");
  const name = specifier.startsWith("@") ? parts.slice(0, 2).join("/") : (parts[0] ?? "");
  return name && !builtinModules.includes(name) ? name : null;
}

/** Node's node_modules lookup: the nearest ancestor directory with node_modules/<name>/package.json. */
function installedPackageDir(dir: string, name: string): string | null {
  const key = `${dir}\0${name}`;
  const cached = packageDirs.get(key);
  if (cached !== undefined) return cached;
  const candidate = join(dir, "node_modules", name);
  const parent = dirname(dir);
  const found = existsSync(join(candidate, "package.json"))
    ? candidate
    : parent === dir
      ? null
      : installedPackageDir(parent, name);
  packageDirs.set(key, found);
  return found;
}

const typeByDirectory = new Map<string, ModuleFormat>();

/** The module format of a file URL by its extension and package scope; null when not a plain JS file. */
export function formatOf(url: URL): ModuleFormat | null {
  if (url.search || url.hash) return null;
  const path = fileURLToPath(url);
  if (path.endsWith(".mjs")) return "module";
  if (path.endsWith(".cjs")) return "commonjs";
  if (!path.endsWith(".js")) return null;
  return packageType(dirname(path));
}

function packageType(dir: string): ModuleFormat {
  const cached = typeByDirectory.get(dir);
  if (cached) return cached;
  let type: ModuleFormat;
  let text: string | null = null;
  try {
    text = readFileSync(join(dir, "package.json"), "utf8");
  } catch {
    // no package.json here: the scope is the parent directory's
  }
  if (text !== null)
    type = (JSON.parse(text) as { type?: unknown }).type === "module" ? "module" : "commonjs";
  else {
    const parent = dirname(dir);
    type = parent === dir ? "commonjs" : packageType(parent);
  }
  typeByDirectory.set(dir, type);
  return type;
}
