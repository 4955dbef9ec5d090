#!/usr/bin/env -S node --max-semi-space-size=16 --heap-growing-percent=50
// V8 flags: see src/cli/node-flags.ts.
// The CLI is TypeScript run directly by Node's type stripping (Node ≥ 22.18).
import "../src/cli/main.ts";
