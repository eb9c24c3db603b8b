from itertools import groupby

from django.core.management.base import BaseCommand, CommandError

from safetycase.core.versions import verify_chain
from safetycase.models import Version


class Command(BaseCommand):
    help = (
        "Recompute the hash of every signed-off version from its stored snapshot and the "
        "previous version's hash, and report any mismatch (exit status 1 when there is one)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--case", type=int, help="Only this case's versions (by id).")

    def handle(self, *args, case=None, **options):
        versions = Version.objects.order_by("case_id", "number")
        if case is not None:
            versions = versions.filter(case_id=case)
        problems: list[str] = []
        checked = 0
        for _, chain in groupby(versions.iterator(), key=lambda v: v.case_id):
            chain = list(chain)
            checked += len(chain)
            problems += verify_chain(chain)
        for problem in problems:
            self.stderr.write(problem)
        if problems:
            raise CommandError(f"{len(problems)} problem(s) in {checked} version(s).")
        self.stdout.write(f"{checked} version(s) verified: every hash matches.")
