#!/usr/bin/env python
import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    from django.core.management import execute_from_command_line

    if sys.argv[1:2] == ["runserver"]:  # make run's web process (other commands are not traced)
        from core import tracing

        tracing.setup()
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
