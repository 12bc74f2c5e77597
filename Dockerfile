# GateScope, CPU image. One image, two commands:
#   the Streamlit app (default):  docker run -p 8501:8501 -v gatescope-data:/data gatescope
#   the REST API:                 docker run -p 8000:8000 -v gatescope-data:/data gatescope \
#                                   python -m sentiment_core serve --host 0.0.0.0 --port 8000
# Runs (trained models) and the dataset cache live in /data; mount a volume there to keep them.
# See docs/deployment.md (GPU servers: install a CUDA build of torch instead, as described there).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app \
    GATESCOPE_RUNS_DIR=/data/runs \
    GATESCOPE_CACHE_DIR=/data/cache \
    GATESCOPE_MAX_CONCURRENT_RUNS=2

WORKDIR /app

# The CPU wheel of torch from the PyTorch CPU index first: a plain `pip install torch` would pull
# the multi-GB CUDA build. requirements.txt's torch==2.13.0 is then already satisfied (2.13.0+cpu).
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu

COPY requirements.txt ./
RUN pip install -r requirements.txt

COPY .streamlit ./.streamlit
COPY sentiment_core ./sentiment_core
COPY app ./app
COPY pretrained ./pretrained
COPY benchmarks/results ./benchmarks/results

RUN useradd --create-home --uid 1000 gatescope \
    && mkdir -p /data/runs /data/cache \
    && chown -R gatescope /data
USER gatescope
VOLUME ["/data"]

EXPOSE 8501 8000
CMD ["streamlit", "run", "app/Home.py", "--server.address=0.0.0.0", "--server.port=8501"]
