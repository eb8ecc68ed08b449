# One image for every MCVT service; docker-compose.yml and deploy/k8s choose the service with
# the command (`python -m services.<name>`).

# The portal's browser libraries, from the npm registry with the lock file (served by the portal).
FROM node:20-slim AS assets
WORKDIR /assets
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error

# The locked dependencies in a virtual environment; uv itself stays in this stage.
FROM python:3.11-slim AS venv
COPY --from=ghcr.io/astral-sh/uv:0.13.8 /uv /bin/
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /app
COPY pyproject.toml uv.lock ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-install-project

# The same base as the stage above, so the environment's interpreter path holds.
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 \
    PATH="/app/.venv/bin:$PATH"
WORKDIR /app

COPY --from=venv /app/.venv ./.venv
COPY --from=assets /assets/node_modules ./node_modules
COPY contracts ./contracts
COPY services ./services
# Compiled now: at run time the non-root user cannot write __pycache__ beside the code.
RUN python -m compileall -q contracts services

# A numeric user, so that Kubernetes' runAsNonRoot can verify it.
RUN useradd --system --uid 10001 --no-create-home mcvt
USER 10001

# Containers talk to each other: listen on every interface, not only loopback. PORT is set
# per service by compose and the Kubernetes manifests (portal 8000, actors 8001, ...).
ENV HOST=0.0.0.0
EXPOSE 8000-8007
# Ready when the service's database and broker answer (Kubernetes probes /readyz itself).
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PORT', '8001') + '/readyz', timeout=2)"]
CMD ["python", "-m", "services.actors"]
