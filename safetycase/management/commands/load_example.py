from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from safetycase import services
from safetycase.choices import Role
from safetycase.core.gsn.gsn2x import load_files
from safetycase.core.gsn.rules import check_argument
from safetycase.models import SafetyCase

EXAMPLE_FILE = Path(__file__).resolve().parents[2] / "examples" / "example.gsn.yaml"
EXAMPLE_NAME = "Example-7 internal coding agent (example)"


class Command(BaseCommand):
    help = (
        "Load the small example scheming case (safetycase/examples/example.gsn.yaml) and make "
        "OWNER (default: admin) its owner. Running it again changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--owner", default="admin", help="Username made owner of the case.")

    def handle(self, *args, owner, **options):
        user = get_user_model().objects.filter(username=owner).first()
        if user is None:
            raise CommandError(f"There is no user {owner!r}; run `manage.py setup_admin` first.")
        case = SafetyCase.objects.filter(name=EXAMPLE_NAME).first()
        if case is None:
            argument = load_files([EXAMPLE_FILE])
            errors = [f for f in check_argument(argument) if f.severity == "error"]
            if errors:  # the shipped example must stay well-formed; tests guard this
                raise CommandError(f"The example argument is ill-formed: {errors[0].message}")
            case = services.case_import_argument(
                name=EXAMPLE_NAME,
                argument=argument,
                model_name="Example-7",
                model_version="2026-11",
                deployment="Internal coding agent with research-cluster access",
                description="A small example of a scheming safety case.",
                owner=user,
            )
            self.stdout.write(f"Loaded the example case {case.name!r} (id {case.pk}).")
        else:
            services.membership_set(case=case, user=user, role=Role.OWNER)
            self.stdout.write(f"The example case {case.name!r} is already loaded (id {case.pk}).")
