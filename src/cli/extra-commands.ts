/** Commands added by other modules (replay, demo, rotate-encryption-key, …): name → handler returning an exit code. */
export const commands: Record<string, (args: string[]) => Promise<number>> = {
  "rotate-encryption-key": async (args) =>
    (await import("./rotate-encryption-key.ts")).runRotateEncryptionKey(args),
  replay: async (args) => (await import("./replay.ts")).runReplayCommand(args),
  demo: async (args) => (await import("./demo.ts")).runDemo(args),
};
