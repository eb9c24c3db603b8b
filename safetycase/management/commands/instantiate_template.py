from pathlib import Path

import yaml
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from safetycase import selectors, services
from safetycase.choices import Role
from safetycase.core.library import TemplateError
from safetycase.errors import ApplicationError


class Command(BaseCommand):
    help = (
        "Instantiate TEMPLATE (ROOT, SI, HI, HC or AL; see docs/templates/) with parameter "
        "values. Without --under, a new case NAME is created from the template (with --owner "
        "as its owner). With --under GOAL, the template is added to the existing case NAME "
        "(a name or an id) and its top goal is attached under GOAL; new identifiers get the "
        "template's prefix (SI-G1) or --prefix, and catalogue assumptions the case already has "
        "are reused. Values come from --params-file (YAML mapping) and then --param key=value "
        "(later wins; each value is read as YAML, so 0.01 is a number and [a, b] a list). "
        "`model`, `model_version` and `deployment` default to the case's fields. Missing "
        "parameters are listed and nothing is created."
    )

    def add_arguments(self, parser):
        parser.add_argument("template", metavar="TEMPLATE", help="Template id, e.g. ROOT or SI.")
        parser.add_argument(
            "--case", required=True, metavar="NAME", help="New case name (or existing, --under)."
        )
        parser.add_argument(
            "--param",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="A parameter value; repeat for several.",
        )
        parser.add_argument(
            "--params-file", metavar="FILE", help="YAML file with a mapping of parameter values."
        )
        parser.add_argument("--owner", metavar="USERNAME", help="Make this user an owner.")
        parser.add_argument(
            "--under", metavar="GOAL", help="Attach under this goal of the existing case NAME."
        )
        parser.add_argument(
            "--prefix", metavar="PREFIX", help="Identifier prefix of the new nodes (with --under)."
        )
        parser.add_argument("--model-name", default="", help="Model the new case is about.")
        parser.add_argument("--model-version", default="", help="Version of that model.")
        parser.add_argument("--deployment", default="", help="Deployment the new case covers.")

    def handle(self, *args, template, case, param, params_file, owner, under, prefix, **opts):
        parameters = self._parameters(params_file, param)
        owner_user = None
        if owner:
            owner_user = get_user_model().objects.filter(username=owner).first()
            if owner_user is None:
                raise CommandError(f"There is no user {owner!r}.")
        if prefix is not None and under is None:
            raise CommandError("--prefix only applies with --under.")
        try:
            if under is None:
                created = services.case_instantiate_template(
                    name=case,
                    template=template,
                    parameters=parameters,
                    model_name=opts["model_name"],
                    model_version=opts["model_version"],
                    deployment=opts["deployment"],
                    owner=owner_user,
                )
                nodes = created.nodes.count()
                bindings = created.bindings.count()
                self.stdout.write(
                    f"Created case {created.name} (id {created.pk}) from template {template}: "
                    f"{nodes} nodes, {bindings} evidence bindings and checks."
                )
            else:
                existing = selectors.case_by_id_or_name(reference=case)
                if owner_user is not None:
                    services.membership_set(case=existing, user=owner_user, role=Role.OWNER)
                result = services.template_instantiate_into_do(
                    case=existing,
                    template=template,
                    parameters=parameters,
                    under=under,
                    prefix=prefix,
                )
                reused = f"; reused {', '.join(result.reused)}" if result.reused else ""
                self.stdout.write(
                    f"Added template {template} to case {existing.name} (id {existing.pk}) under "
                    f"{under}: top goal {result.top}, {len(result.created)} nodes, "
                    f"{result.bindings} evidence bindings and checks{reused}."
                )
        except ApplicationError as exc:
            raise CommandError(f"Template {template} not instantiated: {exc.message}") from exc
        except TemplateError as exc:
            raise CommandError(f"The template library is invalid:\n{exc}") from exc

    def _parameters(self, params_file: str | None, pairs: list[str]) -> dict:
        parameters: dict = {}
        if params_file:
            try:
                data = yaml.safe_load(Path(params_file).read_text(encoding="utf-8"))
            except (OSError, yaml.YAMLError) as exc:
                raise CommandError(f"Cannot read {params_file}: {exc}") from exc
            if data is not None and not isinstance(data, dict):
                raise CommandError(f"{params_file} must hold a mapping of parameter values.")
            parameters.update(data or {})
        for pair in pairs:
            key, sep, value = pair.partition("=")
            if not sep or not key.strip():
                raise CommandError(f"--param {pair!r} is not KEY=VALUE.")
            try:
                parameters[key.strip()] = yaml.safe_load(value) if value.strip() else ""
            except yaml.YAMLError:
                parameters[key.strip()] = value
        return parameters
