# LatentCT serving image: the API, the web app and the shipped demo models. No training or test extras.
#   CPU (default):  docker build -t latentct .
#   CUDA:           docker build --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128 -t latentct:cuda .
#                   (pick the CUDA index your torch release and the host's driver support: cu126, cu128, cu130, ...)
# Liveness: the HEALTHCHECK below; readiness: `python -m latentct.healthcheck --ready` (docker-compose.yml uses it).
# Research only, not for clinical use. See docs/deployment.md.
FROM python:3.11-slim

ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# torch first, from the index that matches the wanted build; the range matches pyproject.toml
RUN pip install --index-url "${TORCH_INDEX_URL}" "torch>=2.4,<2.14"

COPY pyproject.toml README.md ./
COPY backend ./backend
RUN pip install ".[postgres]"

COPY frontend ./frontend
COPY models ./models

RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin latentct \
    && mkdir -p /data && chown latentct /data
USER latentct

# MALLOC_ARENA_MAX: glibc may give each thread of the PNG-encoding pool a malloc arena of its own (up to 8 per core),
# a common cause of resident memory creeping up in threaded Python servers; two arenas bound that (docs/hardening.md)
ENV MALLOC_ARENA_MAX=2 \
    LATENTCT_HOST=0.0.0.0 \
    LATENTCT_PORT=8000 \
    LATENTCT_MODELS_DIR=/app/models \
    LATENTCT_FRONTEND_DIR=/app/frontend \
    LATENTCT_DATA_DIR=/data

EXPOSE 8000
VOLUME ["/data"]
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 CMD ["python", "-m", "latentct.healthcheck"]
CMD ["latentct", "serve"]
