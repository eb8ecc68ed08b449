# MCVT developer commands. `make` alone lists them.

# `pip install --user uv` lands in the user scripts folder, which is often not on PATH yet.
USER_BIN := $(shell python3 -c 'import site, sys, os; print(os.path.join(site.getuserbase(), "Scripts" if sys.platform == "win32" else "bin"))' 2>/dev/null)
export PATH := $(if $(USER_BIN),$(USER_BIN):)$(HOME)/.local/bin:$(PATH)

UV ?= uv
# `install` has synced the environment; the other targets run in it as it is.
RUN = $(UV) run --no-sync

.DEFAULT_GOAL := help
# Arguments passed through to the command of a target: make run ARGS="--keep-data --quiet".
ARGS ?=

.PHONY: help install run bootstrap test test-long test-browser bench soak contracts lint migrate mutate clean

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

install: ## install uv if missing, then the locked dependencies into .venv
	@command -v $(UV) >/dev/null 2>&1 || { \
		echo "uv not found: installing it with pip"; \
		python3 -m pip install --user uv \
		|| python3 -m pip install --user --break-system-packages uv \
		|| python3 -m pip install uv; \
	}
	@if [ -f uv.lock ]; then $(UV) sync --frozen; else $(UV) sync; fi
	@# The portal's browser libraries (htmx, Alpine, Leaflet, Chart.js, axe-core), served by itself.
	@if command -v npm >/dev/null 2>&1; then npm ci --no-audit --no-fund --loglevel=error; \
	else echo "npm not found: the portal will serve its pages without its browser libraries"; fi

run: install ## start PostgreSQL, a broker and every service, load the demo (Ctrl-C stops); ARGS="--help" lists the options
	$(RUN) python -m services.devstack $(ARGS)

bootstrap: install ## create a territory and its first facilitator in the stack of `make run`: ARGS='--territory "..." --facilitator-name "..."'
	@test -f .run/stack.env || { echo "no .run/stack.env: start the stack with 'make run' first"; exit 1; }
	. ./.run/stack.env && DATABASE_URL="$$ACTORS_DATABASE_URL" $(RUN) python -m services.actors bootstrap $(ARGS)

# Two workers (pytest-xdist), each with its own broker; TEST_WORKERS=0 runs in one process.
TEST_WORKERS ?= 2

test: install ## the test suite against real PostgreSQL and a real Kafka-protocol broker, less the long tier
	$(RUN) pytest -q -n $(TEST_WORKERS) -m "not long and not browser"

test-long: install ## the long tier (tests marked `long`: the fuzzing campaign, the faults, the replicas); CI runs it after `make test`
	$(RUN) pytest -q -n $(TEST_WORKERS) -m long

test-browser: install ## the portal in headless Chromium (/usr/bin/chromium) against the stack of `make run`; screenshots in .run/artifacts/
	$(RUN) pytest -q -m browser tests/portal/browser

bench: install ## the benchmarks
	$(RUN) python -m benchmarks

soak: install ## load the whole stack to its ceiling, then 10 minutes at half of it, and plot it (not in CI); ARGS="--help" lists the options
	$(RUN) python -m benchmarks.soak $(ARGS)

contracts: install ## regenerate the JSON Schema and AsyncAPI files under contracts/
	$(RUN) python -m services.tools.export

lint: install ## ruff (lint, format check, banned imports in domain modules) and mypy (code and tests)
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy services contracts tests benchmarks

# One mutant at a time (the tests share one broker and a small machine), stopped after 45 minutes;
# a later run resumes where it stopped. `$(RUN) mutmut browse` shows each survivor's diff.
mutate: install ## mutation testing of the runtime's outbox, inbox and consumer against tests/runtime
	timeout 45m $(RUN) mutmut run --max-children 1 || test $$? -eq 124
	$(RUN) mutmut results

migrate: install ## apply every service's migrations to its database
	$(RUN) python -m services.tools.migrate_all

clean: ## remove .run (logs, embedded PostgreSQL data) and tool caches; keeps .venv
	rm -rf .run .pytest_cache .mypy_cache .ruff_cache .hypothesis mutants
	find . -path ./.venv -prune -o -type d -name __pycache__ -exec rm -rf {} +
