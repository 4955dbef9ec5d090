import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Kill/restart tests spawn real processes: `npm run test:chaos` (vitest.chaos.config.ts).
    exclude: ["test/chaos/**", "**/node_modules/**"],
    globalSetup: ["test/helpers/global-setup.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Each file gets its own database; two cores, so keep parallelism modest.
    maxWorkers: 3,
    pool: "forks",
  },
});
