# One image for web, worker and beat (and the one-shot migrate). Built by the same steps CI tests:
# dependencies from the hashed lock, static files by bin/build-static (the manifest production reads).
FROM python:3.11-slim-bookworm

ARG GIT_COMMIT=""
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    GIT_COMMIT=${GIT_COMMIT} BEAT_HEARTBEAT_FILE=/tmp/beat-heartbeat
WORKDIR /app

RUN apt-get update && apt-get install -y --no-install-recommends curl && rm -rf /var/lib/apt/lists/*
COPY requirements.lock .
RUN pip install --require-hashes --no-deps -r requirements.lock

COPY . .
RUN PYTHON=python bin/build-static \
    && useradd --system --create-home perkdesk \
    && mkdir -p /app/var/private && chown -R perkdesk /app/var

USER perkdesk
EXPOSE 8000
# /healthz is 503 within 3 s when the database or Redis is away (anonymous: status only).
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD curl -fsS -H "X-Forwarded-Proto: https" http://127.0.0.1:8000/healthz || exit 1
CMD ["gunicorn", "--config", "gunicorn.conf.py", "perkdesk.wsgi:application"]
