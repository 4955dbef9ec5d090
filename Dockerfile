# Signalpost runs its TypeScript directly on Node ≥ 22.12 (type stripping): no build step.
FROM node:24-bookworm-slim
# MALLOC_ARENA_MAX: see PROCESS_ENV in src/cli/node-flags.ts (keeps a worker's RSS ~30 MB lower).
ENV NODE_ENV=production MALLOC_ARENA_MAX=2
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY src ./src
COPY db ./db
COPY openapi ./openapi
USER node
EXPOSE 8080
# V8 flags: see src/cli/node-flags.ts.
ENTRYPOINT ["node", "--max-semi-space-size=16", "--heap-growing-percent=50", "src/cli/main.ts"]
CMD ["serve"]
