# Flowbase — the two commands: `make run` and `make test`. See README.md.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
LOCAL := .local
HOST ?= 127.0.0.1
PORT ?= 8000
ARGS ?=
# Every recipe that talks to the services loads the same environment `make env` prints.
WITH_ENV = eval "$$(bash .make/local.sh env)" &&

.PHONY: help run test up services migrate bootstrap serve worker beat stop env lint fmt lock bench clean-local

help:
	@echo "make run     set up everything, load demo data, serve the admin (+ worker and beat)"
	@echo "make test    set up everything, then lint and the whole test suite (ARGS=... for pytest)"
	@echo "make stop    stop the local PostgreSQL, Redis, worker and beat"
	@echo "make env     print the export lines for using manage.py against the local services"
	@echo "make bench   run the benchmarks in bench/"
	@echo "make lock    regenerate requirements/*.txt from pyproject.toml"

# --- set-up -----------------------------------------------------------------------------------
$(VENV)/.installed: requirements/dev.txt
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) is required"; exit 1; }
	@[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --upgrade pip
	@$(PY) -m pip install -q -r requirements/dev.txt
	@touch $@

services:
	@bash .make/local.sh up

migrate: $(VENV)/.installed services
	@$(WITH_ENV) $(PY) manage.py migrate --no-input -v 0
	@$(WITH_ENV) $(PY) manage.py pgpartition --yes --skip-delete >/dev/null

bootstrap: migrate
	@$(WITH_ENV) $(PY) manage.py ensure_admin
	@$(WITH_ENV) $(PY) manage.py seed_demo --scale small

up: bootstrap

# --- the two commands --------------------------------------------------------------------------
run: up
	@mkdir -p $(LOCAL)/log
	@echo ""
	@echo "Flowbase admin:  http://$(HOST):$(PORT)/admin/"
	@cat $(LOCAL)/admin-login.txt 2>/dev/null || true
	@echo "(Ctrl-C stops the web server; 'make stop' stops the database and Redis.)"
	@$(WITH_ENV) exec $(PY) manage.py runserver $(HOST):$(PORT)

test: $(VENV)/.installed services lint
	@$(WITH_ENV) DJANGO_SETTINGS_MODULE=dataplatform.settings.test $(PY) -m pytest $(ARGS)

# --- helpers -----------------------------------------------------------------------------------
stop:
	@bash .make/local.sh down

env:
	@bash .make/local.sh env

lint: $(VENV)/.installed
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check --quiet .

fmt: $(VENV)/.installed
	@$(VENV)/bin/ruff check --fix .
	@$(VENV)/bin/ruff format .

lock: $(VENV)/.installed
	@for spec in "base:" "dev:--extra dev" "prod:--extra prod"; do \
	  name=$${spec%%:*}; extra=$${spec#*:}; \
	  $(VENV)/bin/pip-compile -q --strip-extras --no-emit-index-url --no-emit-find-links $$extra \
	    --output-file requirements/$$name.txt pyproject.toml; \
	done

bench: migrate
	@$(WITH_ENV) $(PY) bench/run.py $(ARGS)
