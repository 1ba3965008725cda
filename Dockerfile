# LatentCT serving image: the API, the web app and the shipped demo models. No training or test extras, no compiler,
# no pip in the final image (a multi-stage build: the environment /opt/latentct and the package /opt/latentct-app are
# made in build stages, the final stage copies them). Needs BuildKit (`RUN --mount`): Docker 23+, or podman/buildah.
#   CPU (default):   docker build -t latentct .
#   CUDA:            docker build --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128 -t latentct:cuda .
#                    (pick the CUDA index your torch release and the host's driver support: cu126, cu128, cu130, ...)
#   no registry:     scripts/build_base_image.sh   (a Debian bookworm base made with debootstrap, imported into podman)
#                    podman build --format docker --build-arg BASE_IMAGE=localhost/debian-base:bookworm -t latentct .
#                    (podman: --format docker, or the OCI format drops the HEALTHCHECK)
# Wheels in deploy/wheels/ (e.g. `pip download --no-deps "torch>=2.4,<2.14" -d deploy/wheels`) are used first: a
# torch wheel there replaces TORCH_INDEX_URL; with --build-arg WHEELS_ONLY=1 every package comes from there (no index).
# Health: the HEALTHCHECK below is readiness (/api/ready: every model loaded and warm).
# Research only, not for clinical use. See docs/deployment.md.
ARG BASE_IMAGE=python:3.11-slim

FROM ${BASE_IMAGE} AS deps

ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ARG WHEELS_ONLY=0
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

# python3 is /usr/local/bin/python3 in the python images, /usr/bin/python3 on Debian: the venv works on both.
# The package itself goes to /opt/latentct-app (stage `app`), which the venv finds through a .pth file: the large
# dependency layers stay cached, and stay the same layers, when only the source changes.
RUN python3 -m venv /opt/latentct \
    && echo /opt/latentct-app >"$(/opt/latentct/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/latentct-app.pth"
ENV PATH=/opt/latentct/bin:$PATH
WORKDIR /src

# torch first: the wheel in deploy/wheels when there is one (its dependencies from there or the package index),
# else from the index that matches the wanted build; the range matches pyproject.toml either way
RUN --mount=type=bind,source=deploy/wheels,target=/wheels \
    if [ "${WHEELS_ONLY}" = 1 ]; then export PIP_NO_INDEX=1; fi \
    && if ls /wheels/torch-*.whl >/dev/null 2>&1; then \
        pip install --find-links /wheels /wheels/torch-*.whl "torch>=2.4,<2.14"; \
    else \
        pip install --index-url "${TORCH_INDEX_URL}" "torch>=2.4,<2.14"; \
    fi

# the runtime dependencies and the postgres extra, as pyproject.toml lists them (no dev or training extras)
COPY pyproject.toml ./
RUN --mount=type=bind,source=deploy/wheels,target=/wheels \
    if [ "${WHEELS_ONLY}" = 1 ]; then export PIP_NO_INDEX=1; fi \
    && python -c 'import tomllib; p = tomllib.load(open("pyproject.toml", "rb"))["project"]; print("\n".join(p["dependencies"] + p["optional-dependencies"]["postgres"]))' >requirements.txt \
    && pip install --find-links /wheels -r requirements.txt

# the environment the image carries: without its installer, C++ headers (no compiler in the image to use them) and
# packages' own test suites (about 250 MB; torch.testing, numpy.testing and the like are separate and stay)
FROM deps AS runtime-deps
RUN pip uninstall -y -q pip setuptools \
    && cd /opt/latentct/lib/python3*/site-packages \
    && rm -rf torch/include torch/test */tests */*/tests */*/*/tests

# the package alone (its dependencies are in the venv); the `latentct` script runs the venv's python
FROM deps AS app
COPY README.md ./
COPY backend ./backend
RUN --mount=type=bind,source=deploy/wheels,target=/wheels \
    if [ "${WHEELS_ONLY}" = 1 ]; then export PIP_NO_INDEX=1; fi \
    && pip install --no-deps --find-links /wheels --target /opt/latentct-app . \
    && head -n1 /opt/latentct-app/bin/latentct | grep -qx '#!/opt/latentct/bin/python3\?'

FROM ${BASE_IMAGE}

# the installed environment and package only: no source tree, no pip, no build cache
COPY --from=runtime-deps /opt/latentct /opt/latentct
COPY --from=app /opt/latentct-app /opt/latentct-app
WORKDIR /app
COPY frontend ./frontend
COPY models ./models

RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin latentct \
    && mkdir -p /data && chown latentct /data
USER latentct

# MALLOC_ARENA_MAX: glibc may give each thread of the PNG-encoding pool a malloc arena of its own (up to 8 per core),
# a common cause of resident memory creeping up in threaded Python servers; two arenas bound that (docs/hardening.md)
ENV PATH=/opt/latentct-app/bin:/opt/latentct/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    MALLOC_ARENA_MAX=2 \
    LATENTCT_HOST=0.0.0.0 \
    LATENTCT_PORT=8000 \
    LATENTCT_MODELS_DIR=/app/models \
    LATENTCT_FRONTEND_DIR=/app/frontend \
    LATENTCT_DATA_DIR=/data

EXPOSE 8000
VOLUME ["/data"]
HEALTHCHECK --interval=15s --timeout=5s --start-period=120s --retries=3 CMD ["python", "-m", "latentct.healthcheck", "--ready"]
CMD ["latentct", "serve"]
