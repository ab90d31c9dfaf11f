# The image of the Docker action (`uses: org/deploy-actions@v1`) and of
# `docker://ghcr.io/org/deploy-actions:v1`: the deploy-actions command line, with exactly the
# dependencies of requirements.lock (hash-checked), run as a non-root user.
#
# Base: the official image pinned by tag and by digest of its multi-platform index, so every
# build starts from the same bytes; bump both together. BASE_IMAGE exists for machines that
# cannot pull it: the image test builds FROM a local Debian bookworm rootfs with Python 3.11.
ARG BASE_IMAGE=python:3.11.14-slim-bookworm@sha256:65a93d69fa75478d554f4ad27c85c1e69fa184956261b4301ebaf6dbb0a3543d

FROM ${BASE_IMAGE} AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_INPUT=1

# A venv without pip: the base image's pip installs into it (--python), so the runtime image
# carries no package installer. Wheels only, every one checked against the lock's hashes.
COPY requirements.lock /src/requirements.lock
RUN python -m venv --without-pip /opt/deploy-actions \
 && pip --python /opt/deploy-actions/bin/python install --no-cache-dir --no-deps \
        --require-hashes --only-binary=:all: -r /src/requirements.lock

# The package itself goes in as bootstrap.py installs it for the composite actions (files,
# dist-info, console script): no build backend to download, nothing unpinned.
COPY bootstrap.py pyproject.toml /src/
COPY src/ /src/src/
RUN python -c 'import sys; from pathlib import Path; sys.path.insert(0, "/src"); import bootstrap; \
venv = Path("/opt/deploy-actions"); bootstrap.install_package(Path("/src"), venv, venv)' \
 && /opt/deploy-actions/bin/python -m compileall -q /opt/deploy-actions/lib \
 && /opt/deploy-actions/bin/python -c 'import deploy_actions.docker_action'


FROM ${BASE_IMAGE}

# git: the commands run it. Not pinned to a Debian version on purpose: the digest above fixes
# the Debian release, and bookworm's archive keeps only the newest (security-fixed) git, so a
# pinned version would stop building at the next security update instead of picking it up.
# safe.directory: /github/workspace is a bind mount owned by the runner's user on the host; when
# that is not our uid (self-hosted runners, files left by a root container step) git refuses it
# as "dubious ownership". git reads safe.directory only from system or global config, and the
# global one lives in the runner's shared HOME, so it goes in /etc/gitconfig.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends git \
 && rm -rf /var/lib/apt/lists/* \
 && git config --system --add safe.directory /github/workspace \
 && useradd --uid 1001 --user-group --no-create-home --home-dir /github/home \
        --shell /usr/sbin/nologin deploy

COPY --from=build /opt/deploy-actions /opt/deploy-actions

ENV PATH=/opt/deploy-actions/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

LABEL org.opencontainers.image.title="deploy-actions" \
      org.opencontainers.image.description="GitHub Actions that carry a release from a code repository to running software, the GitOps way" \
      org.opencontainers.image.licenses="MIT"

# uid 1001 is the `runner` user of GitHub-hosted runners, which owns the mounted workspace and
# the /github/file_commands files (GITHUB_OUTPUT, GITHUB_STEP_SUMMARY): GitHub's advice to run
# Docker actions as root exists because other uids cannot write there; this one can, without
# root. The entrypoint says so in one line when a runner's uid differs.
USER 1001:1001

# No WORKDIR (the runner sets /github/workspace) and no HEALTHCHECK (a one-shot command, not a
# service). The runner passes `with:` values as INPUT_* and `args` as argv; see docker_action.py.
ENTRYPOINT ["/opt/deploy-actions/bin/python", "-m", "deploy_actions.docker_action"]
