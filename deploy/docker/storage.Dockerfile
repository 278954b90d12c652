# shoal-storage: a storage node: shard replicas, served on the p2p port.
#
# Built by `make images` from a context that the Makefile assembles in
# bin/image/storage: the static binary (CGO_ENABLED=0), config/config.yaml and an
# empty storage/ directory. FROM scratch: nothing is pulled from a registry.
FROM scratch
ARG VERSION=dev
ARG COMMIT=unknown
ARG DATE=unknown
LABEL org.opencontainers.image.title="shoal-storage" \
      org.opencontainers.image.description="Shoal storage tier" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${COMMIT}" \
      org.opencontainers.image.created="${DATE}"
COPY shoal-storage /usr/local/bin/shoal-storage
COPY config/config.yaml /shoal/config/config.yaml
# Owned by the non-root user: a named volume mounted here starts as a copy
# of this directory, so it is writable by that user.
COPY --chown=65532:65532 storage/ /shoal/storage/
WORKDIR /shoal
USER 65532:65532
EXPOSE 6335
HEALTHCHECK --interval=5s --timeout=3s --start-period=60s --retries=3 CMD ["/usr/local/bin/shoal-storage", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/shoal-storage"]
