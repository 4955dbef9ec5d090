import { createRequire } from "node:module";
import { dirname, join } from "node:path";

/**
 * Paths of the real price histories shipped by the `vega-datasets` npm package (a dev
 * dependency): S&P 500 daily 2000–2020 and five stocks monthly 2000–2010. The package exports only
 * its JS entry, so the data directory is found next to it.
 */
export function vegaDatasetPath(name: "sp500-2000.csv" | "stocks.csv"): string {
  const entry = createRequire(import.meta.url).resolve("vega-datasets");
  return join(dirname(entry), "..", "data", name);
}
