from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management.base import BaseCommand, CommandError
from rest_framework.authtoken.models import Token


class Command(BaseCommand):
    help = (
        "Print an API token for USERNAME (created if the user has none) on the last line. "
        "Use it as `Authorization: Token <key>`. With --ingest the user may also upload "
        "evaluation logs (for a harness machine's account)."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument(
            "--ingest", action="store_true", help="Grant the permission to upload logs."
        )

    def handle(self, *args, username, ingest, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"There is no user {username!r}.")
        if ingest:
            user.user_permissions.add(
                Permission.objects.get(content_type__app_label="evidence", codename="ingest_run")
            )
        token, _ = Token.objects.get_or_create(user=user)
        self.stdout.write(token.key)
