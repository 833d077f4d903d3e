# The commands of the project. Everything installs into .venv; nothing by hand.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install test lint typecheck pytest run demo workers migration bench bench-scoring bench-board bench-rescore bench-web bench-audit bench-api clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

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
