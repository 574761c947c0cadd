# The companion service: `docker compose up` runs it beside Redis and a Chroma server (compose.yaml).
# One image for every role: the API (default command), the worker, the scheduler and the bots differ only in the
# command compose gives them.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    UV_PYTHON_DOWNLOADS=never \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    COMPANION_DATA_DIR=/data

WORKDIR /app
RUN pip install --no-cache-dir "uv==0.13.8" \
    && useradd --create-home --uid 10001 companion \
    && mkdir -p /data && chown companion /data

# Dependencies first (their layer is reused until uv.lock changes), then the project itself, not editable.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --locked --no-default-groups --no-install-project
COPY . .
RUN uv sync --locked --no-default-groups --no-editable

USER companion
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
    CMD ["/app/.venv/bin/python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4)"]
ENTRYPOINT ["/app/.venv/bin/companion"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000", "--no-background"]
