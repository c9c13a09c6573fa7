# The jira-drift-operator image: `jiradrift run` (the operator) and `jiradrift refresh-tokens`
# (the CronJob) from one image. Built from a wheel; the final stage has no compiler, no source
# tree, no pip and no pip cache, and runs as the non-root user the chart's securityContext expects.
#
#   docker build --build-arg VERSION="$(tools/release/version.sh)" -t jira-drift-operator:"$(tools/release/version.sh)" .
#
# (tools/release/image.sh builds it for amd64 and arm64 and pushes it, as the release workflow does.)
#
# PYTHON_IMAGE is any Debian-based image with python3 (>= 3.11) and its venv module: the upstream
# default for real builds; the test harness passes a base made from Debian packages
# (tools/build-image.sh), since registries cannot be reached there. Both stages install into a
# virtualenv, so a distribution's externally-managed Python works the same as the upstream image.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
RUN python3 -m venv /opt/build
COPY pyproject.toml README.md ./
COPY operator ./operator
# The project's wheel, then wheels for all its dependencies, so the final stage installs offline.
RUN --mount=type=cache,target=/root/.cache/pip \
    /opt/build/bin/pip wheel --no-deps --wheel-dir /wheels . \
 && /opt/build/bin/pip wheel --wheel-dir /wheels /wheels/jira_drift_operator-*.whl

FROM ${PYTHON_IMAGE}
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="jira-drift-operator" \
      org.opencontainers.image.description="Read-only Kubernetes operator that snapshots Jira configuration and reports drift" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/jiradrift/bin:$PATH \
    HOME=/tmp
# uid/gid 65532, matching the chart's runAsUser/runAsGroup; no home, no shell.
RUN groupadd --system --gid 65532 nonroot \
 && useradd --system --uid 65532 --gid 65532 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin nonroot
# git and OpenSSH's client for spec.history (jiradrift.history runs the git command; SSH host keys are
# pinned from the tenant's Secret). The test harness's base already has them (tools/build-image.sh).
# hadolint ignore=DL3008
RUN if ! command -v git >/dev/null || ! command -v ssh >/dev/null; then \
      apt-get update && apt-get install -y --no-install-recommends git openssh-client \
      && rm -rf /var/lib/apt/lists/*; \
    fi
# Install offline from the builder's wheels (no extra: production dependencies only), drop pip and
# the emulator and developer tooling (jiradrift.sim, jiradrift.dev: nothing the chart runs imports
# them, and `jiradrift sim` / `dev` here say where to get them), and smoke-test every command the
# chart runs.
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    python3 -m venv /opt/jiradrift \
 && /opt/jiradrift/bin/pip install --no-cache-dir --no-index --find-links=/wheels "jira-drift-operator==${VERSION}" \
 && /opt/jiradrift/bin/pip uninstall -q -y pip \
 && package="$(python3 -c 'import jiradrift, os; print(os.path.dirname(jiradrift.__file__))')" \
 && rm -rf "${package:?}/sim" "${package:?}/dev" \
 && jiradrift --help >/dev/null \
 && jiradrift run --help >/dev/null \
 && jiradrift refresh-tokens --help >/dev/null \
 && git --version >/dev/null && command -v ssh >/dev/null
USER 65532:65532
WORKDIR /tmp
# 8080: kopf liveness (/healthz); 8081: readiness (/readyz); 9090: Prometheus metrics.
EXPOSE 8080 8081 9090
ENTRYPOINT ["jiradrift"]
CMD ["run"]
