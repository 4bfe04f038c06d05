import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")

from core import tracing

# Before the handler loads its middleware (Django's instrumentation adds one). gunicorn imports
# this module in each worker, after the fork (config/gunicorn.py does not preload the app).
tracing.setup()

application = get_wsgi_application()

from core.startup import refuse_to_start_on_check_errors  # noqa: E402 (needs Django set up)

refuse_to_start_on_check_errors()

from core.edge import read_chunked_bodies  # noqa: E402 (needs Django set up)

# Chunked bodies are read, with their length, before Django sees them.
application = read_chunked_bodies(application)
