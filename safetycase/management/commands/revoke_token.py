from django.core.management.base import BaseCommand, CommandError

from safetycase import services
from safetycase.models import ApiToken


class Command(BaseCommand):
    help = "Revoke the API token whose key starts with PREFIX (as listed in the admin)."

    def add_arguments(self, parser):
        parser.add_argument("prefix")

    def handle(self, *args, prefix, **options):
        tokens = list(ApiToken.objects.filter(prefix__startswith=prefix[:12], revoked_at=None))
        if len(tokens) != 1:
            raise CommandError(
                f"{len(tokens)} active tokens start with {prefix!r}; give a longer prefix."
                if tokens
                else f"No active token starts with {prefix!r}."
            )
        services.token_revoke(token=tokens[0])
        self.stdout.write(f"Revoked {tokens[0]}.")
