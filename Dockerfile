# syntax=docker/dockerfile:1
# One image for every noon role: the role is the command (`start broker`, `start sso`, …).
# The build stage compiles the TypeScript; the runtime stage holds only the compiled JavaScript
# and the production dependencies, and runs as an unprivileged user.

FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: the package's own `prepare` (Thrift generation) needs the sources, copied below
RUN npm ci --ignore-scripts && npm rebuild zeromq esbuild
COPY . .
RUN npm run gen && node scripts/build.js

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
# Production dependencies only. --ignore-scripts skips the package's `prepare` (it generates
# TypeScript, already compiled into dist/); zeromq's install step only checks its prebuilt addon,
# run explicitly so a missing addon fails the build rather than the first start.
RUN npm ci --omit=dev --ignore-scripts && npm rebuild zeromq && npm cache clean --force
COPY --from=build /src/dist ./dist
COPY --from=build /src/bin ./bin
COPY --from=build /src/shared/protocol/*.thrift ./shared/protocol/
# A numeric uid, so a cluster's runAsNonRoot can verify it without reading /etc/passwd.
RUN groupadd --gid 10001 noon && useradd --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin noon \
  && mkdir -p /var/lib/noon/keys && chown -R 10001:10001 /var/lib/noon
ENV NOON_DATA_DIR=/var/lib/noon NOON_LOG_FORMAT=json NOON_BIND_HOST=0.0.0.0
# glibc gives freed memory back instead of keeping it (cli/allocator-env.ts)
ENV MALLOC_MMAP_THRESHOLD_=131072 MALLOC_TRIM_THRESHOLD_=131072
USER 10001:10001
# The compiled CLI itself, with plain node (bin/noon.js would do the same here: no sources).
ENTRYPOINT ["node", "/app/dist/cli/main.js"]
CMD ["start", "broker"]
