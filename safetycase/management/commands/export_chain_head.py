from django.core.management.base import BaseCommand, CommandError

from safetycase import selectors
from safetycase.signing import ServerKey, SigningKeyError


class Command(BaseCommand):
    help = (
        "Print the head of each case's version chain (the content hash of its newest version) "
        "and the signing key's id, for publication outside the database: in a ticket, an "
        "email or a transparency log. Later, `verify_versions --head HASH` fails if that "
        "version was deleted or changed. With --case, prints only that case's head hash."
    )

    def add_arguments(self, parser):
        parser.add_argument("--case", type=int, help="Only this case's head, as a bare hash.")

    def handle(self, *args, case=None, **options):
        heads = selectors.chain_heads(case_id=case)
        if case is not None:
            if not heads:
                raise CommandError(f"Case {case} has no signed-off version.")
            self.stdout.write(heads[0].content_hash)
            return
        if not heads:
            self.stdout.write("No case has a signed-off version yet.")
            return
        try:
            key_id = ServerKey().key_id
        except SigningKeyError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"signing key {key_id}")
        for version in heads:
            self.stdout.write(
                f"case {version.case_id} version {version.number} {version.content_hash}"
            )
