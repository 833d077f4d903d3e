# The commands of the project. Everything installs into .venv; nothing by hand.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Every dependency pinned with its hashes (from pyproject.toml's lower bounds, with
# the dev extra): make install and CI install exactly these; `make lock` refreshes it.
LOCK   := requirements.lock
# The versions of the installer and of the tool that writes the lock.
PIP_VERSION := 26.3
UV_VERSION  := 0.13.9

.PHONY: install lock test lint typecheck pytest run demo workers migration bench bench-scoring bench-board bench-rescore bench-web bench-audit bench-api clean

# Again whenever the lock or pyproject.toml changes. The project itself goes in
# editable with --no-deps: its dependencies are the lock's, and only those.
$(STAMP): $(LOCK) pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet 'pip==$(PIP_VERSION)'
	$(BIN)/pip install --quiet --require-hashes --only-binary :all: -r $(LOCK)
	$(BIN)/pip install --quiet --no-deps -e .
	$(BIN)/pip check
	touch $(STAMP)

install: $(STAMP)

# Resolve pyproject.toml again from PyPI (newest versions within its bounds, for
# Python 3.11 and later on any platform), with the hashes of every file; commit the
# result. The lock must name every package pyproject.toml does (tests/test_infra.py).
lock:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet 'uv==$(UV_VERSION)'
	$(BIN)/uv pip compile pyproject.toml --extra dev --universal --python-version 3.11 \
		--generate-hashes --upgrade --custom-compile-command "make lock" --quiet -o $(LOCK)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest

# The whole suite: lint, types, and every test (engine, services on SQLite and
# PostgreSQL, live workers and faults).
test: lint typecheck pytest

# The whole service here: migrates the embedded database, loads the fictional demo
# unless present, starts the embedded Redis, then web, worker and beat (Procfile,
# via honcho), and prints the address and the demo sign-ins. Ctrl-C stops it all.
# TASKING_PORT (default 5000), TASKING_INSTANCE, DATABASE_URL, REDIS_URL apply.
# PYTHONPATH: the code of this tree, even when VENV is shared with another checkout.
run: $(STAMP)
	PYTHONPATH="$(CURDIR)$${PYTHONPATH:+:$$PYTHONPATH}" $(BIN)/tasking run

# The embedded database with the fictional demo loaded (sign-ins printed once).
demo: $(STAMP)
	$(BIN)/tasking init-db
	$(BIN)/tasking seed-demo

# One Celery worker and the beat without the web (embedded Redis unless REDIS_URL is set).
workers: $(STAMP)
	PYTHONPATH="$(CURDIR)$${PYTHONPATH:+:$$PYTHONPATH}" $(BIN)/tasking run worker beat

# A new migration from the models: make migration MSG="what changed"
migration: $(STAMP)
	$(BIN)/python -c "import sys, tempfile; from tasking.db import make_engine; \
	from tasking.migrate import upgrade, autogenerate; \
	engine = make_engine(f'sqlite:///{tempfile.mkdtemp()}/head.db'); \
	upgrade(engine); autogenerate(engine, sys.argv[1])" "$(MSG)"

bench: bench-scoring bench-board bench-rescore bench-web bench-audit bench-api

bench-scoring: $(STAMP)
	$(BIN)/python bench/bench_scoring.py

bench-board: $(STAMP)
	$(BIN)/python bench/bench_board.py

bench-rescore: $(STAMP)
	$(BIN)/python bench/bench_rescore.py

bench-web: $(STAMP)
	$(BIN)/python bench/bench_web.py

bench-audit: $(STAMP)
	$(BIN)/python bench/bench_audit.py

bench-api: $(STAMP)
	$(BIN)/python bench/bench_api.py

clean:
	rm -rf $(VENV) instance .pytest_cache .mypy_cache .ruff_cache .hypothesis build *.egg-info
