# Signalpost runs its TypeScript directly on Node ≥ 22.12 (type stripping): no build step.
FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY src ./src
COPY db ./db
COPY openapi ./openapi
USER node
EXPOSE 8080
# V8 flags: see src/cli/node-flags.ts.
ENTRYPOINT ["node", "--max-semi-space-size=16", "src/cli/main.ts"]
CMD ["serve"]
