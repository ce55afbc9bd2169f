# Parley in one container. Not built by CI (no Docker engine on our machines), but linted there
# with hadolint (tests/unit/test_deploy_manifests.py). deploy/ runs it behind Caddy or in Kubernetes.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PARLEY_HOST=0.0.0.0 \
    PARLEY_PORT=8000 \
    PARLEY_DATA_DIR=/data \
    PARLEY_DEMO=false \
    PARLEY_WIDGET_BUNDLE=/app/widget/dist/parley.js \
    OPENBLAS_NUM_THREADS=1 \
    OMP_NUM_THREADS=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY voice_server ./voice_server
COPY rag ./rag
COPY billing ./billing
COPY dashboard_api ./dashboard_api
COPY widget/dist ./widget/dist
RUN pip install .

RUN useradd --create-home --uid 10001 parley \
    && mkdir -p /data && chown parley:parley /data
USER 10001
VOLUME ["/data"]
EXPOSE 8000

# Python itself probes, so the image needs no curl (and no unpinned apt package).
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]

# SIGTERM drains: calls finish their reply and hear a notice (PARLEY_SHUTDOWN_TIMEOUT_S).
STOPSIGNAL SIGTERM
CMD ["parley", "serve"]
