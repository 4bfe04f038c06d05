"""Developer machine: `make run`. Embedded defaults when nothing is configured."""

from .base import *  # noqa: F403
from .base import VAR_DIR, env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
SECRET_KEY = env.str("SECRET_KEY", default="local-only-insecure-secret-key-do-not-use-in-production")

VAR_DIR.mkdir(exist_ok=True)
