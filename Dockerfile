# The sharehub processes on real infrastructure (see docker-compose.yml). Every
# process is the same image with a different `sharehub` command.
# The console's front-end packages (GOV.UK Frontend, htmx), as package-lock.json pins them.
FROM node:20-slim AS assets
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts

FROM python:3.11-slim

RUN pip install --no-cache-dir uv
WORKDIR /app
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --locked --no-dev --no-install-project
COPY events ./events
COPY workflows ./workflows
COPY workers ./workers
COPY policy ./policy
COPY --from=assets /app/node_modules ./node_modules
RUN uv sync --locked --no-dev

RUN useradd --system --home /app sharehub
USER sharehub
ENV PATH="/app/.venv/bin:$PATH"
ENTRYPOINT ["sharehub"]
CMD ["--help"]
