from itertools import groupby

from django.core.management.base import BaseCommand, CommandError

from safetycase import selectors, services
from safetycase.core.versions import verify_chain
from safetycase.signing import ServerKey, SigningKeyError


class Command(BaseCommand):
    help = (
        "Check every signed-off version: rebuild its signed content (snapshot, verdict, "
        "conditions, open items, note, signer, time, previous hash) from the database, "
        "recompute the hash chain, and check the server's Ed25519 signature of every version "
        "and every reviewer's signature with the key in VERSION_SIGNING_KEY_FILE. Prints each "
        "case's chain head. With --head HASH (a head published earlier by export_chain_head), "
        "also checks that the version with that hash is still in its chain, which detects "
        "deleted newest versions. Exit status 1 on any problem."
    )

    def add_arguments(self, parser):
        parser.add_argument("--case", type=int, help="Only this case's versions (by id).")
        parser.add_argument(
            "--head",
            action="append",
            default=[],
            metavar="HASH",
            help="A content hash published earlier (export_chain_head); may be repeated.",
        )

    def handle(self, *args, case=None, head=(), **options):
        versions = selectors.versions_to_verify(case_id=case)
        if not head and not versions.exists():
            # Nothing was signed yet, so there is nothing the key would verify.
            self.stdout.write("0 version(s) verified: there is no signed-off version yet.")
            return
        try:
            key = ServerKey()
        except SigningKeyError as exc:
            raise CommandError(exc.message) from exc
        problems: list[str] = []
        checked = 0
        known_hashes: set[str] = set()
        for _, rows in groupby(versions.iterator(chunk_size=200), key=lambda v: v.case_id):
            records = []
            for version in rows:
                known_hashes.add(version.content_hash)
                records.append(
                    {
                        "number": version.number,
                        "content": services.version_content_of(version),
                        "content_hash": version.content_hash,
                        "previous_hash": version.previous_hash,
                        "server_signature": version.server_signature,
                        "key_id": version.key_id,
                        "signatures": [
                            {
                                "content": services.signature_content_of(s, version),
                                "server_signature": s.server_signature,
                                "key_id": s.key_id,
                            }
                            for s in version.signatures.all()
                        ],
                    }
                )
            checked += len(records)
            problems += verify_chain(records, key_id=key.key_id, verify_signature=key.verify)
        for published in head:
            if published.strip().lower() not in known_hashes:
                problems.append(
                    f"published head {published} is not the hash of any stored version: a "
                    "version was deleted or changed after it was published"
                )
        for problem in problems:
            self.stderr.write(problem)
        if problems:
            raise CommandError(f"{len(problems)} problem(s) in {checked} version(s).")
        self.stdout.write(
            f"{checked} version(s) verified with key {key.key_id}: every hash and signature "
            "matches."
        )
        for version in selectors.chain_heads(case_id=case):
            self.stdout.write(
                f"head of case {version.case_id}: version {version.number} {version.content_hash}"
            )
