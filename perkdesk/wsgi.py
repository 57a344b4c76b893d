import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "perkdesk.settings")
application = get_wsgi_application()

# gunicorn runs no management command: refuse unsafe production settings here, before the first request.
from perkdesk.ops.checks import refuse_unsafe_production_settings  # noqa: E402

refuse_unsafe_production_settings()
