"""Settings of the real worker and beat that tests/observability start: the development settings
(`make run`'s, logs at INFO), with a queue of the test's own, so that no other worker sharing the
broker takes its tasks."""

import os

from config.settings.local import *  # noqa: F403

CELERY_TASK_DEFAULT_QUEUE = os.environ["OBSERVABILITY_TEST_QUEUE"]
