# syntax=docker/dockerfile:1
# Allot's image: compile TypeScript once, ship JavaScript and production dependencies only, run as a non-root
# user on the current Node LTS. Nothing is transpiled at run time.

# better-sqlite3 12 is compiled here, always from source, against this stage's own Node headers. Headers from
# Node 24.19 on give its statements a cleanup hook that aborts the process when one is garbage-collected
# (nodejs/node#65446); built against 24.18.1 it runs on any Node 24 (one ABI), which .ci/run tests too.
FROM node:24.18.1-bookworm-slim AS build
WORKDIR /app
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm_config_build_from_source=better-sqlite3 npm_config_nodedir=/usr/local npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# The dashboard's page and its bundler script: `npm run build` (postbuild) writes dist/dashboard.
COPY dashboard ./dashboard
COPY scripts/build-dashboard.ts ./scripts/
# Pruning keeps the better-sqlite3 built above instead of compiling it again for a production-only install.
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund

FROM node:24-bookworm-slim AS runtime
ENV NODE_ENV=production \
    PORT=8080 \
    HOST=0.0.0.0 \
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true \
    MALLOC_TRIM_THRESHOLD_=131072
WORKDIR /app
COPY --from=build --chown=node:node /app/node_modules ./node_modules
# dist/ holds the compiled server and the built dashboard (dist/dashboard).
COPY --from=build --chown=node:node /app/dist ./dist
# package.json says "type": "module" for dist/.
COPY --chown=node:node package.json ./
# The embedded default writes its SQLite file and generated secrets here; production mode does not.
RUN mkdir -p /app/data && chown node:node /app/data
USER node
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# `npm start`'s command (its prestart is `npm run build`, done above), without npm in between so SIGTERM
# reaches Node directly. Migrations: `node dist/migrate.js` (deploy/docker-compose.yml).
CMD ["node", "--max-semi-space-size=8", "dist/server.js"]
