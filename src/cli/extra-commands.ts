/** Commands added by other modules (replay, demo, rotate-encryption-key, …): name → handler returning an exit code. */
export const commands: Record<string, (args: string[]) => Promise<number>> = {};
