from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management.base import BaseCommand, CommandError

from safetycase import services
from safetycase.errors import ApplicationError


class Command(BaseCommand):
    help = (
        "Create a new API token for USERNAME and print its key on the last line (the only time "
        "it is shown; only its hash is stored). Use it as `Authorization: Token <key>`. "
        "--scopes limits what it may do (read, write, ingest; default read,write). --ingest "
        "makes it a harness token: the ingest scope, and the user may upload evaluation logs."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--scopes", default="read,write", help="Comma-separated scopes.")
        parser.add_argument("--name", default="", help="What the token is for.")
        parser.add_argument(
            "--ingest", action="store_true", help="Add the ingest scope and permission."
        )

    def handle(self, *args, username, scopes, name, ingest, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"There is no user {username!r}.")
        wanted = [s.strip() for s in scopes.split(",") if s.strip()]
        if ingest:
            wanted.append("ingest")
            user.user_permissions.add(
                Permission.objects.get(content_type__app_label="evidence", codename="ingest_run")
            )
        try:
            token, key = services.token_create(user=user, scopes=wanted, name=name)
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"Token {token.prefix}… with scopes {', '.join(token.scopes)}:")
        self.stdout.write(key)
