# Production image for Console. One image runs every role; docker-compose.yml picks the command:
#   web     gunicorn console.wsgi:application (the default CMD below; whitenoise serves /static/)
#   worker  celery -A console worker
#   beat    celery -A console beat
#   migrate python manage.py migrate --noinput
# Configuration comes from the environment only (see .env.example); nothing secret is baked in.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=console.settings \
    CONSOLE_VAR_DIR=/app/var \
    STATIC_ROOT=/app/staticfiles \
    WEB_CONCURRENCY=3

# An unprivileged account runs every process; the code stays owned by root and read-only to it.
RUN groupadd --system --gid 10001 console \
    && useradd --system --uid 10001 --gid console --home-dir /app --no-create-home --shell /usr/sbin/nologin console

WORKDIR /app

# Dependencies first, so that code changes do not reinstall them.
COPY requirements.txt ./
RUN pip install -r requirements.txt

COPY . .

# Static files are collected (compressed, with a manifest) into the image at build time. Settings need a secret
# key and an encryption key to load: the dummies below exist only in this RUN step's environment and never
# reach the image, and the throw-away var directory keeps settings from writing generated keys or broker
# folders into it. Real values come from the environment at run time (docker-compose requires them).
RUN SECRET_KEY=collectstatic-build-only-dummy-not-used-at-run-time-0123456789abcdef \
    CONSOLE_ENCRYPTION_KEYS=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= \
    CONSOLE_VAR_DIR=/tmp/build-var \
    DEBUG=false \
    python manage.py collectstatic --noinput \
    && rm -rf /tmp/build-var \
    && mkdir -p /app/var \
    && chown console:console /app/var

# From here on nothing runs as root. /app/var is the only place the console user can write
# (Celery beat keeps its schedule file there; docker-compose mounts a volume on it for beat).
USER console

EXPOSE 8000

# WEB_CONCURRENCY (gunicorn's own variable) sets the number of worker processes.
CMD ["gunicorn", "console.wsgi:application", "--bind", "0.0.0.0:8000", "--access-logfile", "-", "--worker-tmp-dir", "/dev/shm"]
