FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DJANGO_SETTINGS_MODULE=config.settings.production
WORKDIR /app
COPY pyproject.toml ./
COPY config ./config
COPY scheduler ./scheduler
COPY api ./api
COPY sync ./sync
COPY manage.py ./
RUN pip install --no-cache-dir . && useradd --create-home --uid 1000 app \
    && mkdir -p /app/var && chown app /app/var
USER app
RUN SECRET_KEY=build ALLOWED_HOSTS=localhost python manage.py collectstatic --noinput -v0
EXPOSE 8000
CMD ["gunicorn", "config.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3"]
