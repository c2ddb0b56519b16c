# syntax=docker/dockerfile:1
#
# agency in a small image: `agency dev` (the whole market) or `agency worker` (an agent).
#
#   docker build -t agency .
#   docker run --rm -p 8545-8547:8545-8547 -v agency-data:/data agency            # agency dev
#   docker run --rm -e AGENCY_PRIVATE_KEY -v agency-agent:/data agency \
#       worker --rpc-url http://node:8545 --agency 0x… --ipfs-api http://kubo:5001
#
# Build arguments: FEATURES=browser adds the browser runtime and installs Debian's chromium in
# the image (about 300 MB more).

ARG RUST_VERSION=1.94.1
ARG DEBIAN=bookworm

FROM rust:${RUST_VERSION}-slim-${DEBIAN} AS build
ARG FEATURES=""
WORKDIR /src
# The sources the build reads: the workspace, and the contract artifact the bindings embed.
COPY Cargo.toml Cargo.lock ./
COPY crates crates
COPY contracts/artifacts contracts/artifacts
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p agency-cli --features "${FEATURES}" \
    && install -D -m 0755 target/release/agency /out/agency

FROM debian:${DEBIAN}-slim
ARG FEATURES=""
# ca-certificates: the roots https:// RPC endpoints (and Kubo behind TLS) are checked against;
# chromium only for the browser runtime.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
       $(case "${FEATURES}" in *browser*) echo chromium ;; esac) \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --create-home --home-dir /home/agency --uid 10001 agency \
    && install -d -o agency -g agency /data
COPY --from=build /out/agency /usr/local/bin/agency
COPY examples /opt/agency/examples
USER agency
ENV AGENCY_DATA_DIR=/data
VOLUME ["/data"]
WORKDIR /opt/agency
# JSON-RPC, store API and gateway, web (agency dev); metrics (agency worker --metrics).
EXPOSE 8545 8546 8547 9101
ENTRYPOINT ["agency"]
CMD ["dev", "--host", "0.0.0.0"]
