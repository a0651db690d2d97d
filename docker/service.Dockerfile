# The SoraWM fleet service: a slim image, no GPU, no engine.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    SORAWM_DATA_DIR=/data \
    SORAWM_HOST=0.0.0.0 \
    SORAWM_PORT=5344

WORKDIR /app
COPY pyproject.toml README.md ./
COPY shared ./shared
COPY service ./service
RUN pip install ".[service]" \
    && useradd --system --uid 10001 --home-dir /data sorawm \
    && mkdir -p /data && chown sorawm /data

USER 10001
VOLUME ["/data"]
EXPOSE 5344
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:5344/health', timeout=4)"]
CMD ["python", "-m", "service"]
