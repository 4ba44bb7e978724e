# Production image: applies migrations, then serves REST + Socket.IO on port 8000.
# Configure with SUPPORT_API_* variables (README "Settings"); in production set at least
# SUPPORT_API_DATABASE_URL (PostgreSQL), SUPPORT_API_JWT_PUBLIC_KEY (or _SECRET) and, with more
# than one process, SUPPORT_API_REDIS_URL.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    SUPPORT_API_HOST=0.0.0.0 \
    SUPPORT_API_PORT=8000 \
    SUPPORT_API_VAR_DIR=/data

WORKDIR /app
COPY pyproject.toml README.md alembic.ini ./
COPY support_api ./support_api
COPY migrations ./migrations
# Editable install: `support-api db upgrade` finds migrations/ beside the package. The `gevent`
# extra: deploy/compose.yaml runs the servers with SUPPORT_API_ASYNC_MODE=gevent.
RUN pip install -e '.[gevent]' \
 && useradd --system --uid 10001 --home-dir /data app \
 && mkdir -p /data && chown app /data

USER app
EXPOSE 8000
VOLUME ["/data"]
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/v1/health', timeout=4).status != 200)"
CMD ["sh", "-c", "support-api db upgrade && exec support-api serve"]
