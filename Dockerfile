# acd-collector image (used by compose/docker-compose.yml). SQL is checked against the committed
# .sqlx/ cache, so the build needs no database.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
ENV SQLX_OFFLINE=true
RUN cargo build --release --locked --bin acd-collector

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/acd-collector /usr/local/bin/acd-collector
# No private PostgreSQL in the container: DATABASE_URL must be set (compose does).
USER 65534:65534
EXPOSE 4317 4318 9464
ENTRYPOINT ["acd-collector"]
CMD ["serve"]
