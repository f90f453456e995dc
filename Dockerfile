# syntax=docker/dockerfile:1
#
# Image of the Punctual operator: `punctual-operator` (kopf) on python:3.11-slim.
#
# Build from the repository root:
#   docker build -t punctual-operator:0.1.0 --build-arg VERSION=0.1.0 .
# The `RUN --mount` step needs BuildKit, which is the default builder since
# Docker 23. The chart and config/manager run this image as UID 65532 with a
# read-only root file system and an emptyDir at /tmp.

ARG PYTHON_IMAGE=python:3.11-slim

# Builder: one wheel for Punctual and one for each of its runtime dependencies.
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
# pyproject.toml names README.md as the package's long description.
COPY pyproject.toml README.md ./
COPY operator/ operator/
RUN pip wheel --wheel-dir /wheels .

# Runtime: install from the builder's wheels only, without the network, so the
# image contains what the builder resolved and nothing else.
FROM ${PYTHON_IMAGE}
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="punctual-operator" \
      org.opencontainers.image.description="Kubernetes operator that runs ScheduledJobs (punctual.dev/v1alpha1) as JobRuns and batch/v1 Jobs" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="docker.io/library/python:3.11-slim"
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
# The bind mount keeps the wheels out of every layer of this stage.
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    pip install --no-index --find-links=/wheels punctual \
    && groupadd --gid 65532 punctual \
    && useradd --uid 65532 --gid 65532 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin punctual
# 8080: kopf liveness endpoint; 9090: Prometheus metrics; 9443: admission webhook.
EXPOSE 8080 9090 9443
USER 65532:65532
ENTRYPOINT ["punctual-operator"]
