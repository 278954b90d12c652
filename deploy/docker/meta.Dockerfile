# shoal-meta: a meta node: embedded etcd (Raft, cluster state), embedded NATS, the catalog API.
#
# Built by `make images` from a context that the Makefile assembles in
# bin/image/meta: the static binary (CGO_ENABLED=0), config/config.yaml and an
# empty storage/ directory. FROM scratch: nothing is pulled from a registry.
FROM scratch
ARG VERSION=dev
ARG COMMIT=unknown
ARG DATE=unknown
LABEL org.opencontainers.image.title="shoal-meta" \
      org.opencontainers.image.description="Shoal meta tier" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${COMMIT}" \
      org.opencontainers.image.created="${DATE}"
COPY shoal-meta /usr/local/bin/shoal-meta
COPY config/config.yaml /shoal/config/config.yaml
# Owned by the non-root user: a named volume mounted here starts as a copy
# of this directory, so it is writable by that user.
COPY --chown=65532:65532 storage/ /shoal/storage/
WORKDIR /shoal
USER 65532:65532
EXPOSE 6335 2379 6336 4222
HEALTHCHECK --interval=5s --timeout=3s --start-period=60s --retries=3 CMD ["/usr/local/bin/shoal-meta", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/shoal-meta"]
