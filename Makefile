# PerkDesk. `make run` and `make test` work on a fresh machine; see README.md.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: venv run test worker beat lint mypy migrate seed check clean

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

run: seed
	@echo "PerkDesk on http://127.0.0.1:$(PORT)/  (demo logins above; Ctrl-C stops)"
	$(PY) manage.py runserver 127.0.0.1:$(PORT)

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

clean:
	rm -rf $(VENV) var staticfiles
