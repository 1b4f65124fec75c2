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
comma := ,

.PHONY: help run test test-pgbouncer test-replica test-failover up services roles migrate bootstrap serve worker beat stop env lint fmt lock bench clean-local

help:
	@echo "make run     set up everything, load demo data, serve the admin (+ worker and beat)"
	@echo "make test    set up everything, then lint and the whole test suite (ARGS=... for pytest)"
	@echo "make test-pgbouncer  the same suite through PgBouncer (transaction mode), with a streaming standby"
	@echo "make test-replica    the same suite with a streaming standby behind the read router"
	@echo "make test-failover   kill the primary of a pg_auto_failover pair while the app writes"
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

# The local cluster's roles (docs/security.md): created, granted and handed the database by the
# cluster's superuser; skipped when DATABASE_URL points elsewhere (run db_roles there yourself).
roles: $(VENV)/.installed services
	@$(WITH_ENV) if [ -n "$${FLOWBASE_ADMIN_DATABASE_URL:-}" ]; then \
	  $(PY) manage.py db_roles --apply --admin-url "$$FLOWBASE_ADMIN_DATABASE_URL" \
	    --owner-createdb --template1 --reassign-from flowbase -v 0; \
	fi

# migrate and partition DDL run as the owner; the app (DATABASE_URL) never does.
migrate: roles
	@$(WITH_ENV) $(PY) manage.py migrate --database owner --no-input -v 0
	@$(WITH_ENV) $(PY) manage.py partitions create --apply --database owner >/dev/null
	@$(WITH_ENV) $(PY) manage.py db_roles --apply -v 0
	@$(WITH_ENV) $(PY) manage.py db_roles --check

# After the demo data, the first page is true: views refreshed (with their refresh log), checks
# run, findings computed and a first index-usage snapshot taken. `dataquality` exits 1 when a
# check fails and `dbhealth` when critical findings are open: findings to show, not a failed
# set-up.
bootstrap: migrate
	@$(WITH_ENV) $(PY) manage.py ensure_admin
	@$(WITH_ENV) $(PY) manage.py seed_demo --scale small
	@$(WITH_ENV) $(PY) manage.py refresh_views >/dev/null
	@$(WITH_ENV) { $(PY) manage.py dataquality run >/dev/null || [ $$? -eq 1 ]; }
	@$(WITH_ENV) { $(PY) manage.py dbhealth --snapshot >/dev/null || [ $$? -eq 1 ]; }

up: bootstrap

# --- the two commands --------------------------------------------------------------------------
run: up worker beat
	@mkdir -p $(LOCAL)/log
	@echo ""
	@echo "Flowbase admin:  http://$(HOST):$(PORT)/admin/"
	@cat $(LOCAL)/admin-login.txt 2>/dev/null || true
	@echo "(Ctrl-C stops the web server; 'make stop' stops the worker, beat, database and Redis.)"
	@$(WITH_ENV) exec $(PY) manage.py runserver $(HOST):$(PORT)

test: roles lint
	@bash .make/local.sh browser
	@$(WITH_ENV) DJANGO_SETTINGS_MODULE=dataplatform.settings.test $(PY) -m pytest $(ARGS)

# The whole suite again as production runs it (docs/scaling.md): the app's login through
# PgBouncer in transaction mode, and a streaming standby behind the read router. Tests marked
# `direct_db` (they need one server session) are skipped there.
test-pgbouncer: roles lint
	@bash .make/local.sh browser
	@FLOWBASE_PGBOUNCER=1 FLOWBASE_REPLICA=1 bash .make/local.sh up
	@FLOWBASE_PGBOUNCER=1 bash .make/local.sh restart-pgbouncer
	@export FLOWBASE_PGBOUNCER=1 FLOWBASE_REPLICA=1 && $(WITH_ENV) \
	  DJANGO_SETTINGS_MODULE=dataplatform.settings.test $(PY) -m pytest $(ARGS)

# The suite with a streaming standby of the local cluster as `replica` (docs/scaling.md):
# tests/pg/test_replica_standby.py checks replication and the router end to end.
test-replica: roles lint
	@bash .make/local.sh browser
	@FLOWBASE_REPLICA=1 bash .make/local.sh up
	@export FLOWBASE_REPLICA=1 && $(WITH_ENV) DJANGO_SETTINGS_MODULE=dataplatform.settings.test \
	  $(PY) -m pytest $(ARGS)

# The failover test (tests/faults/test_failover.py; docs/scaling.md) on a pg_auto_failover
# formation in .local/ha (monitor, primary, synchronous standby) in place of the local cluster:
# every login gets a multi-host URL with target_session_attrs=read-write.
test-failover: export FLOWBASE_HA := 1
test-failover: roles lint
	@$(WITH_ENV) DJANGO_SETTINGS_MODULE=dataplatform.settings.test \
	  $(PY) -m pytest tests/faults/test_failover.py $(ARGS)

# --- helpers -----------------------------------------------------------------------------------
# Celery in the background: pid files in .local/run/, logs in .local/log/; reused when running.
# $(call celery_start,NAME,ARGS)
define celery_start
	@mkdir -p $(LOCAL)/run $(LOCAL)/log
	@pidf="$(CURDIR)/$(LOCAL)/run/celery-$(1).pid"; logf="$(CURDIR)/$(LOCAL)/log/celery-$(1).log"; \
	if [ -f "$$pidf" ] && kill -0 "$$(cat "$$pidf")" 2>/dev/null; then \
	  echo "Celery $(1) already running (pid $$(cat "$$pidf"), log $(LOCAL)/log/celery-$(1).log)"; \
	else \
	  rm -f "$$pidf"; \
	  $(WITH_ENV) $(VENV)/bin/celery -A dataplatform --workdir "$(CURDIR)" $(2) \
	    --detach --pidfile="$$pidf" --logfile="$$logf"; \
	  for _ in $$(seq 150); do [ -s "$$pidf" ] && break; sleep 0.1; done; \
	  [ -s "$$pidf" ] || { echo "Celery $(1) did not start; see $$logf"; exit 1; }; \
	  echo "Celery $(1) started (pid $$(cat "$$pidf"), log $(LOCAL)/log/celery-$(1).log)"; \
	fi
endef

# One local worker for both queues (celery, maintenance); in production the maintenance queue
# has its own worker, the only one given the owner's credentials.
worker: migrate
	$(call celery_start,worker,worker --pool=prefork --concurrency=2 -Q celery$(comma)maintenance -l info)

beat: migrate
	$(call celery_start,beat,beat -l info -S django)

stop:
	@for name in beat worker; do \
	  pidf="$(LOCAL)/run/celery-$$name.pid"; \
	  if [ -f "$$pidf" ] && pid="$$(cat "$$pidf")" && kill -0 "$$pid" 2>/dev/null; then \
	    echo "stopping Celery $$name (pid $$pid)"; \
	    kill -TERM "$$pid"; \
	    for _ in $$(seq 600); do kill -0 "$$pid" 2>/dev/null || break; sleep 0.1; done; \
	    if kill -0 "$$pid" 2>/dev/null; then echo "Celery $$name (pid $$pid) still finishing a task after 60 s"; fi; \
	  fi; \
	  if ! { [ -f "$$pidf" ] && kill -0 "$$(cat "$$pidf")" 2>/dev/null; }; then rm -f "$$pidf"; fi; \
	done
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

# The benchmarks build scratch tables: they run as the owner.
bench: migrate
	@$(WITH_ENV) APP_DATABASE_URL="$$DATABASE_URL" DATABASE_URL="$$MIGRATE_DATABASE_URL" $(PY) bench/run.py $(ARGS)
