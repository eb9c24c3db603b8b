import os
import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from safetycase.paths import local_login, password_file


class Command(BaseCommand):
    help = (
        "Create the administrator account `admin` for a local set-up if it does not exist, and "
        "print its login. The password is generated once and kept in var/admin-password "
        "(or taken from ADMIN_PASSWORD). With --reviewer NAME, also create the ordinary "
        "account NAME (password in var/NAME-password), e.g. for `load_demo --reviewer NAME`, "
        "so that one person can try both sides of a sign-off: authors cannot sign off."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--url", default="http://127.0.0.1:8000/", help="Address to print with the login."
        )
        parser.add_argument(
            "--reviewer",
            metavar="NAME",
            help="Also create an ordinary (not staff) account with this username.",
        )

    def handle(self, *args, url, reviewer=None, **options):
        self._account("admin", os.environ.get("ADMIN_PASSWORD"), superuser=True)
        if options["verbosity"]:
            self.stdout.write(local_login(url, "admin"))
        if reviewer:
            self._account(reviewer, None, superuser=False)
            if options["verbosity"]:
                self.stdout.write(local_login(url, reviewer))

    def _account(self, username: str, wanted_password: str | None, *, superuser: bool) -> None:
        """Create the account if it does not exist, keeping a generated password in var/."""
        User = get_user_model()
        if not User.objects.filter(username=username).exists():
            password = wanted_password or secrets.token_urlsafe(12)
            if superuser:
                User.objects.create_superuser(username, f"{username}@example.org", password)
            else:
                User.objects.create_user(username, f"{username}@example.org", password)
            path = password_file(username)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(password + "\n")
            path.chmod(0o600)
