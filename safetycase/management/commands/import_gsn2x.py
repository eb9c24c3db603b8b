from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from safetycase import services
from safetycase.core.gsn.model import Severity
from safetycase.errors import ApplicationError


class Command(BaseCommand):
    help = (
        "Create case NAME from gsn2x YAML files (https://github.com/jonasthewolf/gsn2x). Each "
        "FILE is read with the files its `module.uses` names (relative to that file; every file "
        "once). The argument is checked with the GSN rules and every finding is printed as "
        "`Error: (<module>) <rule> <node>: <message>` (errors on stderr) or `Warning: ...`. If "
        "any rule reports an error, or a file is not valid gsn2x, nothing is imported. With "
        "--owner the user becomes the case's owner."
    )

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", metavar="FILE", help="gsn2x .gsn.yaml files.")
        parser.add_argument("--case", required=True, metavar="NAME", help="Name of the new case.")
        parser.add_argument("--owner", metavar="USERNAME", help="Make this user the owner.")
        parser.add_argument(
            "--project",
            metavar="NAME",
            default="",
            help="The case's project (default: the owner's only project, else a new one).",
        )
        parser.add_argument("--model-name", default="", help="Model the case is about.")
        parser.add_argument("--model-version", default="", help="Version of that model.")
        parser.add_argument("--deployment", default="", help="Deployment the case covers.")

    def handle(
        self, *args, files, case, owner, project, model_name, model_version, deployment, **opts
    ):
        owner_user = None
        if owner:
            owner_user = get_user_model().objects.filter(username=owner).first()
            if owner_user is None:
                raise CommandError(f"There is no user {owner!r}.")
        try:
            created, argument, findings = services.case_import_gsn2x(
                name=case,
                paths=[Path(f) for f in files],
                model_name=model_name,
                model_version=model_version,
                deployment=deployment,
                owner=owner_user,
                project=project or None,
            )
        except ApplicationError as exc:
            raise CommandError(f"Case {case!r} not imported: {exc.message}") from exc
        modules = {}
        for element in argument.elements:
            modules.setdefault(element.identifier, element.module)
        errors = 0
        for finding in findings:
            is_error = finding.severity == Severity.ERROR
            errors += is_error
            module = modules.get(finding.node or "", "")
            line = "{}: {}{}{}: {}".format(
                "Error" if is_error else "Warning",
                f"({module}) " if module else "",
                finding.rule,
                f" {finding.node}" if finding.node else "",
                finding.message,
            )
            (self.stderr if is_error else self.stdout).write(line)
        if created is None:
            raise CommandError(
                f"Case {case!r} not imported: {errors} error{'s' if errors != 1 else ''}."
            )
        self.stdout.write(
            f"Imported {len(argument.elements)} nodes and {len(argument.relations)} links "
            f"into case {created.name} (id {created.pk})."
        )
