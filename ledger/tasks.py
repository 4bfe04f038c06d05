import logging

from celery import shared_task

from .models import VerificationRun
from .verification import verify_and_record

logger = logging.getLogger(__name__)


@shared_task
def verify_ledger() -> int:
    """Nightly proof that the books hold; every problem is an error log line (and a Sentry event)."""
    problems = verify_and_record(source=VerificationRun.Source.TASK)
    for problem in problems:
        logger.error("ledger verification failed", extra={"problem": problem})
    if not problems:
        logger.info("ledger verification passed")
    return len(problems)
