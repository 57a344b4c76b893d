# PerkDesk. `make run` and `make test` work on a fresh machine; see README.md.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
PYTEST_ARGS ?=
# Settings default to production (DEBUG off, secrets required); everything make starts is a development tool
# unless the caller says otherwise (DJANGO_ENV=production make migrate).
DJANGO_ENV ?= development
export DJANGO_ENV

# Locks (hashes) made from the pinned top-level files: `make lock` after changing requirements*.txt.
COMPILE := $(PY) -m piptools compile --quiet --generate-hashes --allow-unsafe --strip-extras \
	--no-emit-index-url --no-emit-find-links --resolver=backtracking

.PHONY: venv run test worker beat lint mypy migrate seed check clean lock static

$(VENV)/.installed: requirements-dev.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --require-hashes -r requirements-dev.lock
	touch $@

venv: $(VENV)/.installed

migrate: venv
	mkdir -p var
	$(PY) manage.py migrate --noinput

seed: migrate
	$(PY) manage.py seed_demo

# DEBUG off: people trying the site meet PerkDesk's own 404/405/500 pages (DJANGO_DEBUG=1 make run for Django's).
# SITE_URL: the links in emails point at the port the site is on.
run: seed
	@echo "PerkDesk on http://127.0.0.1:$(PORT)/  (demo logins above; Ctrl-C stops)"
	DJANGO_DEBUG=$${DJANGO_DEBUG:-0} SITE_URL=$${SITE_URL:-http://127.0.0.1:$(PORT)} $(PY) manage.py runserver 127.0.0.1:$(PORT)

test: venv
	$(PY) bin/with-test-servers -- $(PY) -m pytest $(PYTEST_ARGS)

worker: venv
	$(VENV)/bin/celery -A perkdesk worker --loglevel=INFO --concurrency=$${CELERY_CONCURRENCY:-2}

beat: venv
	mkdir -p var
	$(VENV)/bin/celery -A perkdesk beat --loglevel=INFO --schedule=var/celerybeat-schedule

# Typed modules: mypy with django-stubs must stay clean on these (pyproject.toml [tool.mypy]).
MYPY_PATHS := requests_app/domain.py requests_app/eligibility.py requests_app/services requests_app/selectors.py \
	jss/services jss/selectors.py jss/engine.py marketplace/selectors.py outbox/services.py

mypy: venv
	$(VENV)/bin/mypy $(MYPY_PATHS)

lint: venv
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy $(MYPY_PATHS)
	$(PY) manage.py check
	$(PY) manage.py makemigrations --check --dry-run

# Regenerates both locks from scratch (re-runnable at any time, e.g. after merging new requirements).
lock:
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip show pip-tools >/dev/null 2>&1 || $(PY) -m pip install --quiet pip-tools==7.7.0
	rm -f requirements.lock requirements-dev.lock
	$(COMPILE) --output-file requirements.lock requirements.txt
	$(COMPILE) --constraint requirements.lock --output-file requirements-dev.lock requirements-dev.txt
	@echo "make lock: requirements.lock and requirements-dev.lock written; commit them with requirements*.txt"

# Static files as production serves them (hashed names + manifest): the step the Dockerfile runs.
static: venv
	PYTHON=$(PY) bin/build-static

clean:
	rm -rf $(VENV) var staticfiles
