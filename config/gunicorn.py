"""gunicorn's configuration, the one the Dockerfile and the tests' live server run with.

Every value can be set from the environment (GUNICORN_*), so a deployment tunes it without a
new image."""

import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "3"))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
worker_class = "gthread" if threads > 1 else "sync"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
accesslog = None  # the application logs every request itself, with its correlation id
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "warning")
