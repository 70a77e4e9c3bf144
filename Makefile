# sharehub — the two commands a newcomer needs are `make up` and `make test`.
# uv is installed for the current user when absent and always run as
# `python3 -m uv`, so a fresh PATH (or a pyenv shim not yet rehashed) is no obstacle.

PYTHON ?= python3
UV := $(PYTHON) -m uv
RUN := $(UV) run --locked --python $(PYTHON)
NPM ?= npm
# The browser tests drive Debian's Chromium here (tests/workers/console/conftest.py).
CHROMIUM := /usr/bin/chromium

.PHONY: up test lint check-compose bench sync uv assets chromium

uv:
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet --disable-pip-version-check uv

sync: uv
	$(UV) sync --locked --python $(PYTHON)

# The front-end packages (GOV.UK Frontend, htmx; swagger-ui for /docs), as package-lock.json pins
# them; `npm ci` runs only when node_modules is missing or older than the lock. No package
# needs an install script, and swagger-ui-dist's dependency would use one to send telemetry.
assets: node_modules/.package-lock.json

node_modules/.package-lock.json: package.json package-lock.json
	@command -v $(NPM) >/dev/null 2>&1 || { echo "npm is needed for the console's front-end \
	packages (GOV.UK Frontend): install Node.js and npm, then run make again" >&2; exit 1; }
	$(NPM) ci --no-audit --no-fund --ignore-scripts
	@touch $@

# Debian's Chromium for the browser tests, when absent (Playwright cannot download its
# own browser here): as root, or with sudo when it needs no password.
chromium:
	@if [ -x "$(CHROMIUM)" ]; then exit 0; fi; \
	if [ "$$(id -u)" -eq 0 ]; then SUDO=""; \
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo -n"; \
	else echo "The browser tests need Chromium at $(CHROMIUM); install it with \
	'sudo apt-get install -y chromium' and run make again" >&2; exit 1; fi; \
	echo "Installing Debian's chromium for the browser tests..."; \
	$$SUDO apt-get update -qq && \
	$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null && \
	test -x "$(CHROMIUM)" || { echo "Could not install Chromium at $(CHROMIUM)" >&2; exit 1; }

up: sync assets
	$(RUN) sharehub up

lint: sync
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy events workflows workers tests bench

check-compose: sync
	$(RUN) check-jsonschema --builtin-schema vendor.compose-spec docker-compose.yml

test: lint check-compose assets chromium
	$(RUN) pytest

bench: sync
	$(RUN) python -m bench
