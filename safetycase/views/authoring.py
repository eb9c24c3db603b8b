"""Authoring pages (authors only): a case from a template, gsn2x import and export, and editing
nodes, links and evidence bindings.

Each page is a plain form that posts and redirects, so it works without JavaScript. Views parse
the form and call one service; the services check permissions and validate, and their sentences
are shown on the form. Edit forms carry the object's `updated_at`: a save over someone else's
change is refused (Conflict) and nothing is written.
"""

from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as Forbidden
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.text import slugify
from django.views.decorators.http import require_POST

from safetycase import selectors, services
from safetycase.core.gsn.gsn2x import Gsn2xError, dump_files
from safetycase.errors import ApplicationError, PermissionDenied
from safetycase.forms import (
    BindingEditForm,
    BindingForm,
    Gsn2xImportForm,
    LinkCreateForm,
    NodeCreateForm,
    NodeEditForm,
    TemplateCaseForm,
)
from safetycase.models import Node
from safetycase.views.access import (
    case_for_author_or_403,
    case_for_user_or_404,
    found_or_404,
    node_or_404,
)

T = "safetycase/authoring/"


# Which form field a service's sentence is about, by words it contains (else the whole form).
NAME_HINTS = {"name": ("case named",)}
# A structural GSN rule's sentence starts with its number ("R9: ...").
STRUCTURAL_RULE_WORDS = tuple(f"{rule}:" for rule in sorted(services.STRUCTURAL_RULES))
NODE_HINTS = {
    "type": ("node type", *STRUCTURAL_RULE_WORDS),
    "identifier": ("identifier", "already has a node"),
    "combination": ("combination", "combine"),
}
BINDING_HINTS = {
    "expression": ("CEL",),
    "freshness_days": ("freshness",),
    "selector": ("selector", "task", "scorer", "metric", "conditions"),
}


def _error_field(message: str, hints: dict[str, tuple[str, ...]]) -> str | None:
    return next((f for f, words in hints.items() if any(w in message for w in words)), None)


REFUSED = object()


def _submit(form, save, hints: dict[str, tuple[str, ...]] | None = None):
    """Call the service (`save`) for a valid form: its result, or REFUSED with the service's
    sentence on the form (on the field it is about). A permission refusal is a 403."""
    try:
        return _authorised(save)
    except ApplicationError as exc:
        form.add_service_error(exc.message, _error_field(exc.message, hints) if hints else None)
        return REFUSED


def _authorised(call):
    """Call the service; its permission refusal is a 403."""
    try:
        return call()
    except PermissionDenied as exc:
        raise Forbidden(exc.message) from exc


def _edit_url(node: Node) -> str:
    return reverse("authoring_node_edit", args=[node.case_id, node.identifier])


# --------------------------------------------------------------------------------------------
# New cases: from a template, or imported from gsn2x files


@login_required
def case_new(request: HttpRequest) -> HttpResponse:
    """The library's templates to start a case from, and the gsn2x import."""
    library = selectors.template_library()
    return render(request, T + "case_new.html", {"templates": library.templates.values()})


@login_required
def case_new_from_template(request: HttpRequest, template: str) -> HttpResponse:
    library = selectors.template_library()
    if template not in library.templates:
        raise Http404(f"There is no template {template!r}.")
    form = TemplateCaseForm(request.POST or None, parameters=library.parameters(template))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            case = services.case_instantiate_template(
                name=data["name"],
                template=template,
                parameters=form.parameters(),
                model_name=data["model_name"],
                model_version=data["model_version"],
                deployment=data["deployment"],
                description=data["description"],
                owner=request.user,
            )
        except ApplicationError as exc:
            if exc.extra:
                form.add_instantiation_errors(exc)
            else:
                form.add_service_error(exc.message, _error_field(exc.message, NAME_HINTS))
        else:
            messages.success(request, f"Case {case.name} was created from template {template}.")
            return redirect(case)
    context = {"form": form, "template": library.templates[template]}
    return render(request, T + "case_template_form.html", context)


@login_required
def case_import(request: HttpRequest) -> HttpResponse:
    """Upload gsn2x files → a new case; refused with the rule errors listed."""
    form = Gsn2xImportForm(request.POST or None, request.FILES or None)
    findings = None
    if request.method == "POST" and form.is_valid():
        try:
            case, findings = _import_uploads(form.cleaned_data, request.user)
        except ApplicationError as exc:
            form.add_service_error(exc.message, _error_field(exc.message, NAME_HINTS))
        else:
            if case is not None:
                warnings = len(findings)
                messages.success(
                    request,
                    f"Case {case.name} was imported"
                    + (
                        f" with {warnings} warning{'s' if warnings != 1 else ''}."
                        if warnings
                        else "."
                    ),
                )
                return redirect(case)
    return render(request, T + "case_import.html", {"form": form, "findings": findings})


def _import_uploads(data: dict, owner):
    """Write the uploads to a temporary directory (so `module.uses` finds its neighbours) and
    import them. Returns (case or None, findings)."""
    with tempfile.TemporaryDirectory() as directory:
        paths = []
        for upload in data["files"]:
            path = Path(directory) / Path(upload.name).name
            with path.open("wb") as out:
                for chunk in upload.chunks():
                    out.write(chunk)
            paths.append(path)
        case, _argument, findings = services.case_import_gsn2x(
            name=data["name"],
            paths=paths,
            model_name=data["model_name"],
            model_version=data["model_version"],
            deployment=data["deployment"],
            owner=owner,
        )
    return case, findings


@login_required
def case_export_gsn2x(request: HttpRequest, case_id: int) -> HttpResponse:
    """A zip of the case's gsn2x files (one a module), for any member."""
    case = case_for_user_or_404(request, case_id)
    try:
        files = dump_files(selectors.case_argument(case=case))
    except Gsn2xError as exc:
        messages.error(request, f"The case cannot be written as gsn2x: {exc}")
        return redirect(case)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    response = HttpResponse(buffer.getvalue(), content_type="application/zip")
    filename = f"{slugify(case.name) or f'case-{case.pk}'}-gsn2x.zip"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# --------------------------------------------------------------------------------------------
# Nodes and links


@login_required
def node_create(request: HttpRequest, case_id: int) -> HttpResponse:
    case = case_for_author_or_403(request, case_id)
    initial = {"parent": request.GET.get("parent", "")}
    form = NodeCreateForm(
        request.POST or None, initial=initial, identifiers=selectors.node_identifiers(case=case)
    )
    if request.method == "POST" and form.is_valid():
        node = _submit(
            form, lambda: _create_node(request.user, case, form.cleaned_data), NODE_HINTS
        )
        if node is not REFUSED:
            messages.success(request, f"{node.identifier} was added.")
            return redirect(node)
    return render(request, T + "node_create.html", {"case": case, "form": form})


def _create_node(actor, case, data: dict) -> Node:
    return services.node_create(
        actor=actor,
        case=case,
        identifier=data["identifier"],
        type=data["type"],
        statement=data["statement"],
        undeveloped=data["undeveloped"],
        parent=data["parent"],
        relation=data["relation"] or "supported_by",
    )


@login_required
def node_edit(request: HttpRequest, case_id: int, identifier: str) -> HttpResponse:
    """Statement, type, undeveloped and combination; the page also lists the node's links and
    bindings with their forms."""
    case = case_for_author_or_403(request, case_id)
    node = node_or_404(case, identifier)
    form = NodeEditForm.for_node(node, request.POST or None)
    if request.method == "POST" and form.is_valid():
        saved = _submit(form, lambda: _save_node(request.user, node, form.cleaned_data), NODE_HINTS)
        if saved is not REFUSED:
            messages.success(request, f"{node.identifier} was saved.")
            return redirect(_edit_url(node))
    return render(request, T + "node_edit.html", _node_edit_context(case, node, form))


def _save_node(actor, node: Node, data: dict) -> Node:
    return services.node_edit(
        actor=actor,
        node=node,
        expected_updated_at=data["updated_at"],
        statement=data["statement"],
        type=data["type"],
        undeveloped=data["undeveloped"],
        combination=data["combination"].strip() or "all",
    )


def _node_edit_context(case, node, form, link_form=None, binding_form=None) -> dict:
    identifiers = [i for i in selectors.node_identifiers(case=case) if i != node.identifier]
    return {
        "case": case,
        "node": node,
        "form": form,
        "links": selectors.node_links(case=case, node=node),
        "link_form": link_form or LinkCreateForm(identifiers=identifiers),
        "bindings": selectors.node_bindings(node=node),
        "binding_form": binding_form or BindingForm(),
        "takes_binding": node.type in ("solution", "assumption"),
    }


@login_required
def node_delete(request: HttpRequest, case_id: int, identifier: str) -> HttpResponse:
    """A confirm page; the POST deletes the node and its links."""
    case = case_for_author_or_403(request, case_id)
    node = node_or_404(case, identifier)
    if request.method == "POST":
        _authorised(lambda: services.node_delete(actor=request.user, node=node))
        messages.success(request, f"{identifier} and its links were deleted.")
        return redirect(case)
    links = len(selectors.node_links(case=case, node=node))
    return render(request, T + "node_delete.html", {"case": case, "node": node, "links": links})


@login_required
@require_POST
def link_create(request: HttpRequest, case_id: int, identifier: str) -> HttpResponse:
    """A link from this node to another (its form is on the node's edit page)."""
    case = case_for_author_or_403(request, case_id)
    node = node_or_404(case, identifier)
    identifiers = [i for i in selectors.node_identifiers(case=case) if i != node.identifier]
    form = LinkCreateForm(request.POST, identifiers=identifiers)
    if form.is_valid():
        link = _submit(
            form,
            lambda: services.link_create(
                actor=request.user,
                case=case,
                source=node.identifier,
                target=form.cleaned_data["target"],
                type=form.cleaned_data["type"],
            ),
            # A structural rule's sentence goes beside the node the link would go to.
            {"target": STRUCTURAL_RULE_WORDS},
        )
        if link is not REFUSED:
            messages.success(
                request, f"{node.identifier} now links to {form.cleaned_data['target']}."
            )
            return redirect(_edit_url(node))
    context = _node_edit_context(case, node, NodeEditForm.for_node(node), link_form=form)
    return render(request, T + "node_edit.html", context, status=400)


@login_required
@require_POST
def link_delete(request: HttpRequest, case_id: int, link_id: int) -> HttpResponse:
    case = case_for_author_or_403(request, case_id)
    link = found_or_404(selectors.link_for_case, case=case, link_id=link_id)
    _authorised(lambda: services.link_delete(actor=request.user, link=link))
    messages.success(request, f"The link {link.source} {link.type} {link.target} was removed.")
    back = request.POST.get("node") or link.source.identifier
    return redirect(reverse("authoring_node_edit", args=[case.pk, back]))


# --------------------------------------------------------------------------------------------
# Evidence bindings


@login_required
@require_POST
def binding_create(request: HttpRequest, case_id: int, identifier: str) -> HttpResponse:
    case = case_for_author_or_403(request, case_id)
    node = node_or_404(case, identifier)
    form = BindingForm(request.POST)
    if form.is_valid():
        binding = _submit(
            form,
            lambda: services.binding_create(actor=request.user, node=node, **form.values()),
            BINDING_HINTS,
        )
        if binding is not REFUSED:
            messages.success(request, f"Evidence binding added to {node.identifier}.")
            return redirect(_edit_url(node))
    context = _node_edit_context(case, node, NodeEditForm.for_node(node), binding_form=form)
    return render(request, T + "node_edit.html", context, status=400)


@login_required
def binding_edit(request: HttpRequest, case_id: int, binding_id: int) -> HttpResponse:
    case = case_for_author_or_403(request, case_id)
    binding = found_or_404(selectors.binding_for_case, case=case, binding_id=binding_id)
    form = BindingEditForm.for_binding(binding, request.POST or None)
    if request.method == "POST" and form.is_valid():
        saved = _submit(
            form,
            lambda: services.binding_update(
                actor=request.user,
                binding=binding,
                expected_updated_at=form.cleaned_data["updated_at"],
                **form.values(),
            ),
            BINDING_HINTS,
        )
        if saved is not REFUSED:
            messages.success(request, f"The {binding.kind} of {binding.node} was saved.")
            return redirect(_edit_url(binding.node))
    context = {"case": case, "binding": binding, "node": binding.node, "form": form}
    return render(request, T + "binding_edit.html", context)


@login_required
@require_POST
def binding_delete(request: HttpRequest, case_id: int, binding_id: int) -> HttpResponse:
    case = case_for_author_or_403(request, case_id)
    binding = found_or_404(selectors.binding_for_case, case=case, binding_id=binding_id)
    _authorised(lambda: services.binding_delete(actor=request.user, binding=binding))
    messages.success(request, f"The {binding.kind} of {binding.node} was deleted.")
    return redirect(_edit_url(binding.node))
