import { defineConfig } from "vitest/config";

/**
 * Crash/restart tests: they spawn real API and worker processes and kill them with signals, so
 * they run one file at a time (they would fight over the two cores) with generous time limits.
 */
export default defineConfig({
  test: {
    include: ["test/chaos/**/*.test.ts"],
    globalSetup: ["test/helpers/global-setup.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    maxWorkers: 1,
    fileParallelism: false,
    pool: "forks",
  },
});
