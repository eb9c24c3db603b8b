import os
import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from safetycase.paths import var_dir


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
        password = self._account("admin", os.environ.get("ADMIN_PASSWORD"), superuser=True)
        self.stdout.write(f"Log in at {url} as admin / {password}")
        if reviewer:
            password = self._account(reviewer, None, superuser=False)
            self.stdout.write(f"Log in at {url} as {reviewer} / {password}")

    def _account(self, username: str, wanted_password: str | None, *, superuser: bool) -> str:
        """The password to print: generated for a new account, read back for an existing one."""
        password_file = var_dir() / f"{username}-password"
        User = get_user_model()
        if not User.objects.filter(username=username).exists():
            password = wanted_password or secrets.token_urlsafe(12)
            if superuser:
                User.objects.create_superuser(username, f"{username}@example.org", password)
            else:
                User.objects.create_user(username, f"{username}@example.org", password)
            password_file.parent.mkdir(parents=True, exist_ok=True)
            password_file.write_text(password + "\n")
            password_file.chmod(0o600)
            return password
        if password_file.exists():
            return password_file.read_text().strip()
        return f"(unchanged; set it with `manage.py changepassword {username}`)"
