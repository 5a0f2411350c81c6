# One image for every process of the stack: `tnaas web` (the default), `tnaas worker`,
# `tnaas scheduler`, and the `tnaas train` step. Layers go from what changes least to most, so a
# code edit rebuilds only the last ones: dependencies, then the models and their training, then the rest.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TNAAS_ARTIFACTS_DIR=/app/artifacts \
    TNAAS_DATA_DIR=/app/data \
    TNAAS_HOST=0.0.0.0 \
    TNAAS_METRICS_PORT=9100 \
    TNAAS_LOG_FORMAT=json

RUN useradd --create-home --uid 10001 --user-group tnaas
WORKDIR /app

# 1. The dependencies, read from pyproject.toml alone: rebuilt only when they change.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# 2. What training reads, then training: rebuilt when the corpora or the code under them change.
#    The artifacts belong to the runtime user, so the compose volume made from them is writable.
COPY core/ core/
COPY tnaas/ tnaas/
COPY models/ models/
COPY corpora/ corpora/
COPY store/ store/
COPY jobs/ jobs/
COPY availability/ availability/
RUN python -m tnaas train && mkdir -p data && chown -R 10001:10001 artifacts data

# 3. The rest (the web process, the page), and the `tnaas` command itself.
COPY . .
RUN pip install --no-deps -e .

USER 10001:10001

EXPOSE 8000 9100
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 CMD ["python", "-m", "tnaas.probe"]
CMD ["tnaas", "web"]
