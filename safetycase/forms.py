"""Forms of the web UI: parse and validate what a page is asked for."""

from __future__ import annotations

import json

import yaml
from django import forms

from safetycase.choices import LinkType, NodeType


class SampleFilterForm(forms.Form):
    """Filters of a run's sample table: one score's outcome, and/or errored samples only."""

    score = forms.ChoiceField(required=False)
    outcome = forms.ChoiceField(
        required=False,
        # A score's value 1 (C) is the outcome the scorer looks for, which for a scheming
        # evaluation is the dangerous behaviour: say "occurred", not "correct".
        choices=[
            ("", "any outcome"),
            ("correct", "outcome occurred (1)"),
            ("incorrect", "did not occur (0)"),
        ],
    )
    errors_only = forms.BooleanField(required=False, label="errors only")

    def __init__(self, *args, scores: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["score"].choices = [("", "any score")] + [(name, name) for name in scores]


class RunIndexFilterForm(forms.Form):
    """Filters of the runs index: task, model and harness by a part of their name, status,
    and the upload date."""

    task = forms.CharField(required=False, max_length=300)
    model = forms.CharField(required=False, max_length=300)
    harness = forms.CharField(required=False, max_length=50)
    status = forms.ChoiceField(required=False)
    uploaded_from = forms.DateField(
        required=False, label="uploaded from", widget=forms.DateInput(attrs={"type": "date"})
    )
    uploaded_to = forms.DateField(
        required=False, label="to", widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, statuses, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["status"].choices = [("", "any status"), *statuses]


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one field; each is checked as a FileField would check one."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(attrs={"multiple": True}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        files = data if isinstance(data, list | tuple) else [data]
        cleaned = [super(MultipleFileField, self).clean(f, initial) for f in files if f]
        if not cleaned and self.required:
            raise forms.ValidationError("Choose at least one log file to upload.")
        return cleaned


class RunUploadForm(forms.Form):
    """Upload logs from the runs index: several files into one of the uploader's projects."""

    files = MultipleFileField(label="Log files", required=False)
    project = forms.ChoiceField(label="Project")

    def __init__(self, *args, projects, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["project"].choices = [(p.name, p.name) for p in projects]
        if len(projects) == 1:
            self.fields["project"].initial = projects[0].name

    def clean_files(self):
        files = self.cleaned_data.get("files") or []
        if not files:
            raise forms.ValidationError("Choose at least one log file to upload.")
        return files


# --------------------------------------------------------------------------------------------
# Authoring: cases from templates, nodes, links, evidence bindings, gsn2x import.
# The services validate (identifiers, CEL, selectors, template parameters); these forms only
# parse what was typed and carry the services' sentences back to the right field.


# Template parameters the case's own fields fill (model, version, deployment).
CASE_FIELD_PARAMETERS = {
    "model": "model_name",
    "model_version": "model_version",
    "deployment": "deployment",
}
PARAMETER_PREFIX = "p_"


class _ServiceErrorsMixin:
    def add_service_error(self, message: str, field: str | None = None) -> None:
        """Attach a service's sentence to `field` when the form has it, else to the form."""
        self.add_error(field if field in self.fields else None, message)


class TemplateCaseForm(_ServiceErrorsMixin, forms.Form):
    """A new case from a library template: the case's fields, then one field per template
    parameter (lists one item a line; lists of records as YAML). Every parameter field is
    optional here: the service says which values are missing or invalid."""

    name = forms.CharField(max_length=200, label="Case name")
    model_name = forms.CharField(max_length=200, required=False, label="Model")
    model_version = forms.CharField(max_length=200, required=False, label="Model version")
    deployment = forms.CharField(max_length=500, required=False)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, parameters, **kwargs):
        super().__init__(*args, **kwargs)
        self.parameter_declarations = {
            p.name: p for p in parameters if p.name not in CASE_FIELD_PARAMETERS
        }
        for param in self.parameter_declarations.values():
            self.fields[PARAMETER_PREFIX + param.name] = _parameter_field(param)

    def parameter_fields(self):
        return [self[PARAMETER_PREFIX + name] for name in self.parameter_declarations]

    def case_fields(self):
        return [self[name] for name in ("name", "model_name", "model_version", "deployment")]

    def parameters(self) -> dict:
        """The parameter values given (blank ones left out, so defaults apply)."""
        values = {}
        for name in self.parameter_declarations:
            key = PARAMETER_PREFIX + name
            value = self.cleaned_data.get(key)
            if value is None or value == "" or value == []:
                continue
            values[name] = value
        return values

    def clean(self):
        cleaned = super().clean()
        for name, param in self.parameter_declarations.items():
            key = PARAMETER_PREFIX + name
            raw = cleaned.get(key)
            if param.type != "list" or not isinstance(raw, str):
                continue
            if param.fields:
                try:
                    value = yaml.safe_load(raw) if raw.strip() else []
                except yaml.YAMLError as exc:
                    self.add_error(key, f"This is not valid YAML: {exc}")
                    continue
                cleaned[key] = value if value is not None else []
            else:
                cleaned[key] = [line.strip() for line in raw.splitlines() if line.strip()]
        return cleaned

    def add_instantiation_errors(self, exc) -> None:
        """Put the service's missing / unknown / invalid lists on the fields they name."""
        extra = exc.extra or {}
        placed = False
        for path in extra.get("missing", []):
            self.add_error(self._field_for(path), f"{path} needs a value.")
            placed = True
        for sentence in extra.get("invalid", []):
            self.add_error(self._field_for(sentence), sentence)
            placed = True
        for name in extra.get("unknown", []):
            self.add_error(None, f"The template has no parameter {name}.")
            placed = True
        if not placed:
            self.add_error(None, exc.message)

    def _field_for(self, text: str) -> str | None:
        name = text.split("[")[0].split(" ")[0].split(".")[0]
        if name in CASE_FIELD_PARAMETERS:
            return CASE_FIELD_PARAMETERS[name]
        key = PARAMETER_PREFIX + name
        return key if key in self.fields else None


def _parameter_field(param) -> forms.Field:
    default = None if param.required else param.default
    label = param.name.replace("_", " ")
    common = {"required": False, "label": label, "help_text": param.description}
    if param.type == "boolean":
        # A checkbox: unchecked means false, so the default shows as the initial state.
        return forms.BooleanField(initial=bool(default), **common)
    if param.type == "choice":
        choices = [("", "—")] + [(c, c) for c in param.choices]
        return forms.ChoiceField(choices=choices, initial=default, **common)
    if param.type == "integer":
        return forms.IntegerField(initial=default, **common)
    if param.type in ("number", "probability"):
        limits = {"min_value": 0, "max_value": 1} if param.type == "probability" else {}
        return forms.FloatField(initial=default, **limits, **common)
    if param.type == "list":
        if param.fields:
            names = ", ".join(f.name for f in param.fields)
            common["help_text"] = (
                f"{param.description} A YAML list of records with fields {names}."
            ).strip()
            initial = yaml.safe_dump(default, sort_keys=False) if default else ""
        else:
            common["help_text"] = f"{param.description} One item a line.".strip()
            initial = "\n".join(str(item) for item in default or [])
        return forms.CharField(
            initial=initial, widget=forms.Textarea(attrs={"rows": 4}), strip=False, **common
        )
    return forms.CharField(initial=default, **common)


class _VersionedForm(forms.Form):
    """Carries the edited object's updated_at, so a stale save is refused by the service."""

    updated_at = forms.CharField(widget=forms.HiddenInput)


COMBINATION_HELP = "all, any, or at_least:<k> (goals and strategies only)"


class NodeEditForm(_ServiceErrorsMixin, _VersionedForm):
    statement = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 4}))
    type = forms.ChoiceField(choices=NodeType.choices)
    undeveloped = forms.BooleanField(required=False)
    combination = forms.CharField(required=False, max_length=20, help_text=COMBINATION_HELP)

    @classmethod
    def for_node(cls, node, data=None):
        initial = {
            "statement": node.statement,
            "type": node.type,
            "undeveloped": node.undeveloped,
            "combination": node.combination,
            "updated_at": node.updated_at.isoformat(),
        }
        return cls(data, initial=initial)


class NodeCreateForm(_ServiceErrorsMixin, forms.Form):
    identifier = forms.CharField(max_length=100)
    type = forms.ChoiceField(choices=NodeType.choices)
    statement = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 4}))
    undeveloped = forms.BooleanField(required=False)
    parent = forms.ChoiceField(required=False, label="Under node")
    relation = forms.ChoiceField(
        choices=[
            (LinkType.SUPPORTED_BY, "supported by"),
            (LinkType.IN_CONTEXT_OF, "in context of"),
        ],
        required=False,
        help_text="How the chosen node relates to the new one.",
    )

    def __init__(self, *args, identifiers: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["parent"].choices = [("", "— not linked —")] + [(i, i) for i in identifiers]


class LinkCreateForm(_ServiceErrorsMixin, forms.Form):
    type = forms.ChoiceField(choices=LinkType.choices)
    target = forms.ChoiceField(label="to node")

    def __init__(self, *args, identifiers: list[str], **kwargs):
        kwargs.setdefault("auto_id", "id_link_%s")  # shares a page with the node's form
        super().__init__(*args, **kwargs)
        self.fields["target"].choices = [(i, i) for i in identifiers]


class BindingForm(_ServiceErrorsMixin, forms.Form):
    expression = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="CEL over the run's variables, e.g. cp_upper(k, n, 0.95) < 0.01",
    )
    selector = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text='Which runs, as JSON: {"task": "…", "scorer": "…"}; empty for none.',
    )
    freshness_days = forms.IntegerField(required=False, min_value=1)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "id_binding_%s")  # shares a page with the node's form
        super().__init__(*args, **kwargs)

    def clean_selector(self):
        raw = self.cleaned_data["selector"].strip()
        if not raw:
            return {}
        try:
            return json.loads(raw)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(f"This is not valid JSON: {exc}") from exc

    def values(self) -> dict:
        return {
            key: self.cleaned_data[key]
            for key in ("expression", "selector", "freshness_days", "description")
        }


class BindingEditForm(BindingForm, _VersionedForm):
    @classmethod
    def for_binding(cls, binding, data=None):
        initial = {
            "expression": binding.expression,
            "selector": json.dumps(binding.selector, indent=2) if binding.selector else "",
            "freshness_days": binding.freshness_days,
            "description": binding.description,
            "updated_at": binding.updated_at.isoformat(),
        }
        return cls(data, initial=initial)


class _MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class _MultipleFileField(forms.FileField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", _MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(d, initial) for d in data]
        return [single(data, initial)]


class Gsn2xImportForm(_ServiceErrorsMixin, forms.Form):
    name = forms.CharField(max_length=200, label="Case name")
    files = _MultipleFileField(
        label="gsn2x files", help_text="One or more .gsn.yaml files, with the modules they use."
    )
    model_name = forms.CharField(max_length=200, required=False, label="Model")
    model_version = forms.CharField(max_length=200, required=False, label="Model version")
    deployment = forms.CharField(max_length=500, required=False)
