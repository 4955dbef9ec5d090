/**
 * The V8 flags every Signalpost process is started with (package.json scripts, bin/signalpost.js,
 * the Dockerfile and the processes tests and the benchmark spawn use the same value).
 *
 * `--max-semi-space-size=16` caps V8's young generation at 16 MB per semi-space, the value Node
 * used for years; on a large machine Node 24 lets it grow to 64 MB, and under a delivery backlog a
 * worker's RSS then rose to ~296 MB where the cap holds it at ~200 MB, at the same drain rate
 * (bench backlog phase, 100,000 pending: 253/s uncapped, 247/s capped).
 *
 * `--heap-growing-percent=50`: after each full collection V8 lets the old generation grow to 1.5×
 * what survived, instead of a factor it picks from GC speed (up to 4×). A worker's live heap
 * under a backlog is ~30–50 MB (sampling profile after a forced GC), but with V8's own factor the
 * heap ran up to 140–180 MB between full collections: peak RSS 247–282 MB in seven backlog runs
 * (session 5). With the flag: 183 and 186 MB, draining 720–734/s (no slower), and no measurable
 * CPU change at 200 publishes/s (bench, interleaved). Flags cannot be set from inside a running
 * process, hence this list.
 */
export const NODE_FLAGS = ["--max-semi-space-size=16", "--heap-growing-percent=50"] as const;

/**
 * Environment every Signalpost process should start with (the Dockerfile sets it; the benchmark's
 * processes get it). `MALLOC_ARENA_MAX=2`: glibc gives each thread that allocates its own malloc
 * arena (libuv's pool threads, V8's helpers), and freed memory in those arenas is seldom returned.
 * Measured in the bench's backlog phase (100,000 pending, one worker, five alternating runs): RSS
 * outside V8's heap 78–92 MB with it, 97–130 MB without, at the same drain rate. It must be in the
 * environment before the process starts (glibc reads it once), hence a setting and not code.
 * Ignored by other C libraries (macOS, musl).
 */
export const PROCESS_ENV = { MALLOC_ARENA_MAX: "2" } as const;
