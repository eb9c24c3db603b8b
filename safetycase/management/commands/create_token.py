from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management.base import BaseCommand, CommandError

from safetycase import projects, services
from safetycase.errors import ApplicationError


class Command(BaseCommand):
    help = (
        "Create a new API token for USERNAME in project --project and print its key on the "
        "last line (the only time it is shown; only its hash is stored). Use it as "
        "`Authorization: Token <key>`. --project may be left out when USERNAME is a member of "
        "exactly one project; uploads with the token land in its project, and it reads only "
        "that project's runs (and runs shared with it). --scopes says what it may do (read, "
        "write, ingest; default read,write). --ingest makes it an ingest-only harness token: "
        "only the ingest scope (it can neither read nor edit cases) unless --scopes adds more, "
        "and the user may upload evaluation logs."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument(
            "--scopes", default=None, help="Comma-separated scopes (default read,write)."
        )
        parser.add_argument("--project", default="", help="Name of the token's project.")
        parser.add_argument("--name", default="", help="What the token is for.")
        parser.add_argument(
            "--ingest", action="store_true", help="Add the ingest scope and permission."
        )

    def handle(self, *args, username, scopes, name, ingest, project, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"There is no user {username!r}.")
        if scopes is None:
            scopes = "" if ingest else "read,write"
        wanted = [s.strip() for s in scopes.split(",") if s.strip()]
        if ingest:
            wanted.append("ingest")
            user.user_permissions.add(
                Permission.objects.get(content_type__app_label="evidence", codename="ingest_run")
            )
        try:
            if ingest and not projects.project_for_token(user=user, project=project):
                raise CommandError(
                    f"{username} is a member of no project, so an ingest token would have "
                    "nowhere to upload: add them to one (manage.py create_project NAME --owner "
                    f"{username}) or name one with --project."
                )
            token, key = services.token_create(
                user=user, scopes=wanted, name=name, project=project or None
            )
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        where = f" in project {token.project.name}" if token.project else " (no project)"
        self.stdout.write(f"Token {token.prefix}… with scopes {', '.join(token.scopes)}{where}:")
        self.stdout.write(key)
