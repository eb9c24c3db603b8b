# One image for web, worker and beat; docker-compose.yml chooses the command.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    SAFETYCASE_VAR_DIR=/data

# Fonts for the PDF export's scripts the fonts bundled with Typst lack (Chinese, Japanese,
# Korean, Arabic, emoji); SAFETYCASE_PDF_FONT_PATHS finds their directories by default.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        fonts-noto-cjk fonts-noto-color-emoji fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
COPY safetycase ./safetycase
COPY evidence ./evidence
RUN pip install .
COPY . .
# collectstatic needs settings to import; the build-time secret is never used at run time.
RUN SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput \
    && useradd --create-home --uid 1000 app && mkdir -p /data && chown app /data
USER app
EXPOSE 8000
CMD ["gunicorn", "safetycase.wsgi"]
