from django.core.management.base import BaseCommand, CommandError

from safetycase import signing


class Command(BaseCommand):
    help = (
        "Create the Ed25519 key that signs versions, in VERSION_SIGNING_KEY_FILE (default: "
        "version-signing-key in the var directory), readable by its owner only. Does nothing "
        "when the file exists (--if-missing) or refuses (default); keep it out of the "
        "database and its backups."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--if-missing", action="store_true", help="Succeed quietly when the key exists."
        )

    def handle(self, *args, if_missing=False, **options):
        path = signing.key_file()
        if path.exists():
            if if_missing:
                self.stdout.write(f"{path} exists; key {signing.ServerKey().key_id}.")
                return
            raise CommandError(f"{path} already exists; a new key would not verify old versions.")
        signing.create_key(path)
        self.stdout.write(f"Created {path}; key {signing.ServerKey().key_id}.")
