# sharehub — the two commands a newcomer needs are `make up` and `make test`.
# uv is installed for the current user when absent and always run as
# `python3 -m uv`, so a fresh PATH (or a pyenv shim not yet rehashed) is no obstacle.

PYTHON ?= python3
UV := $(PYTHON) -m uv
RUN := $(UV) run --locked --python $(PYTHON)

.PHONY: up test lint check-compose bench sync uv

uv:
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet --disable-pip-version-check uv

sync: uv
	$(UV) sync --locked --python $(PYTHON)

up: sync
	$(RUN) sharehub up

lint: sync
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy events workflows workers tests bench

check-compose: sync
	$(RUN) check-jsonschema --builtin-schema vendor.compose-spec docker-compose.yml

test: lint check-compose
	$(RUN) pytest

bench: sync
	$(RUN) python -m bench
