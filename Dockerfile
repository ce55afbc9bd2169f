# Parley in one container. Not built by CI (no Docker engine on our machines); kept simple.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PARLEY_HOST=0.0.0.0 \
    PARLEY_PORT=8000 \
    PARLEY_DATA_DIR=/data \
    PARLEY_DEMO=false \
    PARLEY_WIDGET_BUNDLE=/app/widget/dist/parley.js

RUN apt-get update \
    && apt-get install -y --no-install-recommends curl \
    && rm -rf /var/lib/apt/lists/*

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
USER parley
VOLUME ["/data"]
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \
    CMD curl -fsS http://127.0.0.1:8000/healthz || exit 1

CMD ["parley", "serve"]
