from django.core.management.base import BaseCommand, CommandError

from ledger.models import Account, JournalEntry, Posting, VerificationRun
from ledger.verification import registered_checks, verify_and_record


class Command(BaseCommand):
    help = (
        "Checks the ledger (stored balances against postings, balanced entries, per-currency totals) "
        "and every check other apps registered. Prints each problem and exits non-zero if there is any."
    )

    def handle(self, *args, **options):
        problems = verify_and_record(source=VerificationRun.Source.COMMAND)
        for problem in problems:
            self.stdout.write(problem)
        if problems:
            raise CommandError(f"ledger verification found {len(problems)} problem(s)")
        self.stdout.write(
            self.style.SUCCESS(
                f"ledger OK: {len(registered_checks())} checks passed over {Account.objects.count()} accounts, "
                f"{JournalEntry.objects.count()} entries, {Posting.objects.count()} postings"
            )
        )
