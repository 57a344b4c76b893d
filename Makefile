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

.PHONY: venv run test worker beat lint migrate seed check clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
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

lint: venv
	$(PY) -m ruff check .
	$(PY) manage.py check
	$(PY) manage.py makemigrations --check --dry-run

clean:
	rm -rf $(VENV) var staticfiles
