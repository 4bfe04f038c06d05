"""A server or worker process refuses to start on a misconfiguration the system checks call an
error. gunicorn and Celery never run `manage.py check` themselves, so a check error alone would
be only advice: production would start, and accept notifications signed with a public secret."""

from django.core import checks
from django.core.exceptions import ImproperlyConfigured


def refuse_to_start_on_check_errors() -> None:
    errors = [
        message
        for message in checks.run_checks(include_deployment_checks=True)
        if message.is_serious() and not message.is_silenced()
    ]
    if errors:
        listed = "\n".join(f"  {message}" for message in errors)
        raise ImproperlyConfigured(f"Refusing to start; the system checks found errors:\n{listed}")
