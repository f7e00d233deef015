# syntax=docker/dockerfile:1
# Microchatter: the server and the SQL it migrates, run by Node with tsx (no build step).
# Without DATABASE_URL the image runs the embedded PostgreSQL as its own non-root user, data in /data;
# compose.yaml runs it against a PostgreSQL service instead.

# Production dependencies only, installed where the build tools and npm's cache stay behind.
FROM node:20-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080 \
    MICROCHATTER_DATA_DIR=/data
WORKDIR /app
# Code and dependencies stay root's: the server's user can read them, not change them.
COPY --from=deps /app/node_modules ./node_modules
COPY . .
# The data directory (embedded PostgreSQL, generated secrets) is the only place the server writes.
RUN mkdir -p /data && chown node:node /data && chmod 0700 /data
USER node
VOLUME ["/data"]
EXPOSE 8080
# The slim image has no curl; Node's fetch asks /healthz, which checks the database too.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Exec form: node is PID 1 and receives SIGTERM itself (a clean shutdown, see docs/operations.md).
CMD ["node", "--import", "tsx", "server/main.ts"]
