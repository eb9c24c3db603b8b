from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from rest_framework.authtoken.models import Token


class Command(BaseCommand):
    help = (
        "Print an API token for USERNAME (created if the user has none) on the last line. "
        "Use it as `Authorization: Token <key>`."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, username, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"There is no user {username!r}.")
        token, _ = Token.objects.get_or_create(user=user)
        self.stdout.write(token.key)
