import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config.ts";

const fails = (env: Record<string, string>) => {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
  throw new Error(`accepted ${JSON.stringify(env)}`);
};

describe("configuration", () => {
  it("reads whole numbers in decimal digits only, and blank as unset", () => {
    expect(loadConfig({ FANOUT_INLINE_MAX: "50" }).FANOUT_INLINE_MAX).toBe(50);
    expect(loadConfig({ FANOUT_INLINE_MAX: " 7 " }).FANOUT_INLINE_MAX).toBe(7);
    // Blank is "unset" (the default), never a silent 0.
    expect(loadConfig({ FANOUT_INLINE_MAX: "   " }).FANOUT_INLINE_MAX).toBe(100);
    expect(loadConfig({ FANOUT_INLINE_MAX: "" }).FANOUT_INLINE_MAX).toBe(100);
    for (const bad of ["0x10", "1e2", "1.5", "abc", "5 apples"])
      expect(fails({ FANOUT_INLINE_MAX: bad })).toContain("FANOUT_INLINE_MAX: expected a whole number");
    expect(fails({ FANOUT_INLINE_MAX: "-1" })).toContain("FANOUT_INLINE_MAX: Too small");
    expect(fails({ FANOUT_INLINE_MAX: "99999999" })).toContain("FANOUT_INLINE_MAX: Too big");
  });

  it("reads booleans in any case and names the variable when it cannot", () => {
    expect(loadConfig({}).DATABASE_PREPARED_STATEMENTS).toBe(true);
    for (const [v, want] of [
      ["TRUE", true],
      [" yes ", true],
      ["1", true],
      ["False", false],
      ["no", false],
      ["0", false],
    ] as const)
      expect(loadConfig({ DATABASE_PREPARED_STATEMENTS: v }).DATABASE_PREPARED_STATEMENTS).toBe(want);
    const message = fails({ DATABASE_PREPARED_STATEMENTS: "maybe" });
    expect(message).toContain("DATABASE_PREPARED_STATEMENTS");
    expect(message).not.toContain('""');
  });
});
