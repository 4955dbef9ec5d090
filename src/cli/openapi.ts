import { readFile, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { createApp, openApiDocument } from "../app.ts";
import type { Deps } from "../deps.ts";

const FILE = fileURLToPath(new URL("../../openapi/openapi.json", import.meta.url));

/** Builds the document from the routes alone (no database): the app is built with inert deps. */
export function generateOpenApi(): string {
  const app = createApp({ config: { MAX_BODY_BYTES: 1 << 20, TRUST_PROXY: false } } as unknown as Deps);
  return `${JSON.stringify(openApiDocument(app), null, 2)}\n`;
}

/** `signalpost openapi [--write|--check]` */
export async function runOpenapi(args: string[]): Promise<number> {
  const doc = generateOpenApi();
  if (args.includes("--write")) {
    await writeFile(FILE, doc);
    process.stderr.write(`wrote ${FILE}\n`);
    return 0;
  }
  if (args.includes("--check")) {
    const committed = await readFile(FILE, "utf8").catch(() => "");
    if (committed !== doc) {
      process.stderr.write(
        "openapi/openapi.json is out of date with the routes: run `npm run openapi:write` and commit it\n",
      );
      return 1;
    }
    process.stderr.write("openapi/openapi.json matches the routes\n");
    return 0;
  }
  process.stdout.write(doc);
  return 0;
}
