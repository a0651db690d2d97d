# et_sorawm on a CUDA runtime: the engine runs on the GPU the container is given.
FROM nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04

ENV DEBIAN_FRONTEND=noninteractive \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    YOLO_OFFLINE=1 \
    YOLO_CONFIG_DIR=/tmp/yolo \
    SORAWM_WORK_DIR=/work \
    SORAWM_DEVICE=auto \
    SORAWM_ID=auto

RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv libgl1 libglib2.0-0 \
    && rm -rf /var/lib/apt/lists/* \
    && python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /app
COPY pyproject.toml README.md ./
COPY shared ./shared
COPY executor ./executor
RUN pip install ".[executor,torch]" \
    && useradd --system --uid 10001 --home-dir /work sorawm \
    && mkdir -p /work /tmp/yolo && chown sorawm /work /tmp/yolo

USER 10001
VOLUME ["/work"]
CMD ["python", "-m", "executor"]
