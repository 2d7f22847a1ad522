# A slim image that runs as a non-root user; compose runs web, worker and beat from it.
# Every application package is copied (tests/test_deploy.py checks it against INSTALLED_APPS
# and pyproject's packages); `pip install .` alone brings every dependency (scripts/ci-production
# runs the service from exactly that, as compose starts it).
FROM python:3.11-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends gettext && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml ./
COPY config ./config
COPY scheduler ./scheduler
COPY api ./api
COPY sync ./sync
COPY web ./web
COPY workspace ./workspace
COPY locale ./locale
COPY templates ./templates
COPY manage.py ./
RUN pip install --no-cache-dir --prefix=/install . \
 && PYTHONPATH=/install/lib/python3.11/site-packages python manage.py compilemessages -v0

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DJANGO_SETTINGS_MODULE=config.settings.production
COPY --from=build /install /usr/local
WORKDIR /app
COPY --from=build /app /app
RUN useradd --create-home --uid 1000 app && mkdir -p /app/var /app/staticfiles && chown -R app /app/var /app/staticfiles
USER app
RUN SECRET_KEY=build ALLOWED_HOSTS=localhost EMAIL_URL=consolemail:// python manage.py collectstatic --noinput -v0
EXPOSE 8000
CMD ["gunicorn", "config.wsgi", "--config", "python:config.gunicorn", "--bind", "0.0.0.0:8000", "--workers", "3"]
