"""The test suite's settings: ``perkdesk.settings`` in development mode.

The settings default to production, which a test run must not depend on the shell to override. pytest-django
imports this module before any conftest, and the variable set here is inherited by the processes tests start
(Celery workers, servers); the tests of production settings start theirs with ``DJANGO_ENV=production``."""

import os

os.environ["DJANGO_ENV"] = "development"

from perkdesk.settings import *  # noqa: E402, F403
