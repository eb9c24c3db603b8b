from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from evidence import projects


class Command(BaseCommand):
    help = (
        "Create project NAME (the workspace that owns cases, evaluation runs and API tokens) "
        "with USERNAME as its owner. Owners add members with roles (viewer, reviewer, author, "
        "owner) on the project's Members page; a member has that role on every case of the "
        "project unless the case gives them another."
    )

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--owner", required=True, metavar="USERNAME")
        parser.add_argument("--description", default="")

    def handle(self, *args, name, owner, description, **options):
        user = get_user_model().objects.filter(username=owner).first()
        if user is None:
            raise CommandError(f"There is no user {owner!r}.")
        try:
            project = projects.project_create(name=name, owner=user, description=description)
        except projects.ProjectRefused as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"Created project {project.name!r} (id {project.pk}); {owner} owns it.")
