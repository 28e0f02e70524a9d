# syntax=docker/dockerfile:1
# The Vigil image: `vigil` CLI (gateway, mqtt-bridge, worker, simulate, grafana provision, ...).
# Stage 1 builds wheels for Vigil and every runtime dependency (no dev extras); stage 2 installs
# only those wheels into a clean slim image that runs as an unprivileged user.
#
#   docker build -t vigil:local .
#   docker run --rm vigil:local --help

ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY vigil ./vigil
COPY ingest ./ingest
COPY detectors ./detectors
COPY streams ./streams
RUN python -m pip wheel --wheel-dir /wheels .

FROM ${PYTHON_IMAGE} AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIGIL_WORKER__DATA_DIR=/var/lib/vigil/faust
RUN groupadd --system --gid 10001 vigil \
    && useradd --system --uid 10001 --gid vigil --home-dir /var/lib/vigil --create-home --shell /usr/sbin/nologin vigil \
    && install -d -o vigil -g vigil -m 0750 /var/lib/vigil/faust
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    python -m pip install --no-index --find-links=/wheels vigil-rpm
COPY --chmod=0755 deploy/docker/healthcheck.py /usr/local/bin/vigil-healthcheck
COPY --chmod=0755 deploy/docker/entrypoint.sh /usr/local/bin/vigil-entrypoint
WORKDIR /var/lib/vigil
USER 10001:10001
EXPOSE 8080 6066
ENTRYPOINT ["vigil-entrypoint"]
CMD ["--help"]
