# mcbridge image: memcache protocol in front, Redis (Memorystore) behind.
#   docker build -t mcbridge .
#   docker run --rm -p 11211:11211 -e REDISHOST=10.0.0.3 -e REDISPORT=6379 mcbridge
# Build stage: the same scripts as a developer machine and CI (scripts/install-deps.sh,
# scripts/build.sh release), so the image is built exactly like what was tested.
FROM debian:bookworm AS build
WORKDIR /src
COPY scripts/install-deps.sh scripts/install-deps.sh
RUN bash scripts/install-deps.sh && rm -rf /var/lib/apt/lists/*
COPY . .
RUN rm -rf build && bash scripts/build.sh release -DMCBRIDGE_TESTS=OFF -DMCBRIDGE_BENCH=OFF \
    && strip build/release/mcbridge

# Final stage: only the shared libraries the daemon links (install-deps.sh --runtime-only).
FROM debian:bookworm-slim
COPY scripts/install-deps.sh /tmp/install-deps.sh
RUN bash /tmp/install-deps.sh --runtime-only && rm -rf /var/lib/apt/lists/* /tmp/install-deps.sh \
    && useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin mcbridge
COPY --from=build /src/build/release/mcbridge /usr/local/bin/mcbridge
# Inside a container the daemon must listen on all interfaces to be reachable through the
# published port; the binary's own default stays 127.0.0.1:11211 everywhere else. Set as an
# environment variable rather than an ENTRYPOINT flag so that `--listen` (or -e MCBRIDGE_LISTEN)
# replaces it instead of adding a second listener.
ENV MCBRIDGE_LISTEN=0.0.0.0:11211
# The admin endpoint (metrics, health) inside the container; publish 9100 only if scraped from
# outside.
ENV MCBRIDGE_ADMIN=0.0.0.0:9100
USER mcbridge
EXPOSE 11211 9100
HEALTHCHECK --interval=10s --timeout=2s --retries=3 CMD curl -fsS http://127.0.0.1:9100/healthz || exit 1
ENTRYPOINT ["/usr/local/bin/mcbridge"]
