# Glimpse: `make run` and `make test` work from a fresh clone; everything installs into .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export DAGSTER_HOME := $(CURDIR)/.dagster

.PHONY: install install-dev run checks test test-fast ui serve lint format bench clean workers deploy-test config-reference docs docs-build

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml setup.py | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml setup.py | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

# The deploy extra: dagster-postgres, dagster-celery, dagster-k8s (make workers, make deploy-test).
$(VENV)/.installed-deploy: pyproject.toml setup.py | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev,deploy]'
	touch $@ $(VENV)/.installed-dev $(VENV)/.installed

$(DAGSTER_HOME)/dagster.yaml: dagster.yaml
	mkdir -p $(DAGSTER_HOME)
	cp dagster.yaml $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# `make run DAY=2026-11-01` for another day, `make run DAYS=2026-11-01..2026-11-07` for a range
# (one or the other: both is an error).
run: install $(DAGSTER_HOME)/dagster.yaml  ## materialise every asset for the last complete day
	$(if $(and $(DAY),$(DAYS)),$(error make run takes DAY (one day) or DAYS (a range), not both))
	$(BIN)/python -m glimpse_assets.run $(if $(DAY),--day $(DAY)) $(if $(DAYS),--days $(DAYS))

checks: install $(DAGSTER_HOME)/dagster.yaml  ## re-run the checks of a day on what is stored (DAY=...)
	$(if $(and $(DAY),$(DAYS)),$(error make checks takes DAY (one day) or DAYS (a range), not both))
	$(BIN)/python -m glimpse_assets.run --checks $(if $(DAY),--day $(DAY)) $(if $(DAYS),--days $(DAYS))

# Tests run in a random order (pytest-randomly prints the seed first): `.venv/bin/pytest
# --randomly-seed=N` repeats an order, `-p no:randomly` keeps the files' order. They run on one
# worker process per core (pytest-xdist; `make test WORKERS=1` for one process): many of them
# wait on servers and subprocesses, so two workers on two cores take about 12 minutes, not 20.
test: install-dev  ## the whole pytest suite
	$(BIN)/python -m pytest -n $(or $(WORKERS),auto) $(ARGS)

# The inner loop, under 3 minutes on 2 cores: all but the tests marked slow, process (they start
# glimpse serve, a dagster daemon, webserver or CLI, SeaweedFS, Chromium or worker processes) and
# deploy (markers declared in pyproject.toml); `make test-fast ARGS=-x` passes pytest options.
test-fast: install-dev  ## the suite without its slow, process and deploy tests (the inner loop)
	$(BIN)/python -m pytest -m "not slow and not process and not deploy" $(ARGS)

# `dg dev` (webserver and daemon) runs from DAGSTER_HOME with the repo's workspace.yaml: run from
# the repo root, Dagster warns that the repo-root dagster.yaml (the template copied into
# DAGSTER_HOME) is not the instance's. A relative GLIMPSE_STORAGE_URI (the default included) is
# made absolute from the repo root for that reason, so make run and make ui share one storage.
ui: install $(DAGSTER_HOME)/dagster.yaml  ## the Dagster UI (and its daemon) on http://127.0.0.1:3000 (PORT=...)
	storage="$${GLIMPSE_STORAGE_URI:-.glimpse/storage}"; \
	case "$$storage" in s3://*|/*) ;; *) storage="$(CURDIR)/$$storage" ;; esac; \
	cd $(DAGSTER_HOME) && GLIMPSE_STORAGE_URI="$$storage" VIRTUAL_ENV=$(CURDIR)/$(VENV) \
		$(CURDIR)/$(BIN)/dg dev -w $(CURDIR)/workspace.yaml -h 127.0.0.1 -p $(or $(PORT),3000)

# `make serve ARGS=--no-auth` for local use without keys; GLIMPSE_API_KEYS otherwise.
serve: install  ## the HTTP API (glimpse serve) on http://127.0.0.1:8080 (PORT=...), OpenAPI at /docs
	$(BIN)/glimpse serve $(if $(PORT),--port $(PORT)) $(ARGS)

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

config-reference: install  ## write docs/configuration.md from the settings classes
	$(BIN)/python -m glimpse_assets.config_reference

# The docs site (MkDocs with Material, mkdocs.yml): `make docs` serves it with live reload,
# `make docs-build` builds it into site/ with --strict, so a broken link or a page left out fails.
$(VENV)/.installed-docs: pyproject.toml setup.py | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[docs]'
	touch $@ $(VENV)/.installed

docs: $(VENV)/.installed-docs  ## the docs site on http://127.0.0.1:8000, reloaded on every edit
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve -a 127.0.0.1:8000

docs-build: $(VENV)/.installed-docs  ## build the docs site into site/ (strict: warnings fail)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

# A Celery worker for GLIMPSE_EXECUTOR=celery: it runs the steps that runs send to the Redis in
# GLIMPSE_CELERY_BROKER_URL, one per core (`make workers ARGS=--concurrency=4` for another
# number), on the instance at DAGSTER_HOME and the storage at GLIMPSE_STORAGE_URI (made
# absolute as for make ui). Start one on every machine that should run steps.
workers: $(VENV)/.installed-deploy $(DAGSTER_HOME)/dagster.yaml  ## a Celery worker for GLIMPSE_EXECUTOR=celery
	@test -n "$$GLIMPSE_CELERY_BROKER_URL" || { echo "make workers needs GLIMPSE_CELERY_BROKER_URL (redis://host:6379/0)"; exit 2; }
	storage="$${GLIMPSE_STORAGE_URI:-.glimpse/storage}"; \
	case "$$storage" in s3://*|/*) ;; *) storage="$(CURDIR)/$$storage" ;; esac; \
	GLIMPSE_STORAGE_URI="$$storage" GLIMPSE_EXECUTOR=celery PATH="$(CURDIR)/$(BIN):$$PATH" \
		$(BIN)/dagster-celery worker start -A dagster_celery.app -y deploy/celery.yaml -- $(ARGS)

# Postgres, Redis, two Celery workers and SeaweedFS on 127.0.0.1: one day of every domain through
# them, compared with an in-process run, the steps' logs read back from S3 (S3ComputeLogManager)
# (deploy/deploy_test.py); the deploy tests first.
deploy-test: $(VENV)/.installed-deploy  ## a real deployment on this machine, end to end
	$(BIN)/python -m pytest -q glimpse_assets_tests/test_deploy_*.py
	$(BIN)/python -m deploy.deploy_test

# The bench extra adds the sentence-transformers reference (torch 2.13.0, the CPU build on disk).
bench: install  ## timings, written to BENCHMARKS.md
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf .dagster .glimpse
