import os
import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from safetycase.paths import var_dir


class Command(BaseCommand):
    help = (
        "Create the administrator account `admin` for a local set-up if it does not exist, and "
        "print its login. The password is generated once and kept in var/admin-password "
        "(or taken from ADMIN_PASSWORD)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--url", default="http://127.0.0.1:8000/", help="Address to print with the login."
        )

    def handle(self, *args, url, **options):
        password_file = var_dir() / "admin-password"
        User = get_user_model()
        user = User.objects.filter(username="admin").first()
        if user is None:
            password = os.environ.get("ADMIN_PASSWORD") or secrets.token_urlsafe(12)
            User.objects.create_superuser("admin", "admin@example.org", password)
            password_file.parent.mkdir(parents=True, exist_ok=True)
            password_file.write_text(password + "\n")
            password_file.chmod(0o600)
        elif password_file.exists():
            password = password_file.read_text().strip()
        else:
            password = "(unchanged; set it with `manage.py changepassword admin`)"
        self.stdout.write(f"Log in at {url} as admin / {password}")
