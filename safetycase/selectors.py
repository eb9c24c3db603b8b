"""Reads that span relations. Both the web UI and the API go through these."""

from __future__ import annotations

from django.db.models import Count, Prefetch, QuerySet
from django.urls import NoReverseMatch, reverse

from safetycase.diagrams import argument_dot
from safetycase.errors import NotFound
from safetycase.gsn.model import Argument, Element, Finding, Relation
from safetycase.gsn.rules import check_argument
from safetycase.models import EvidenceBinding, Link, Membership, Node, SafetyCase
from safetycase.rendering import render_svg


def cases_for_user(*, user) -> QuerySet[SafetyCase]:
    """The cases a user is a member of, with node counts; empty for anonymous users."""
    if not user.is_authenticated:
        return SafetyCase.objects.none()
    return (
        SafetyCase.objects.filter(memberships__user=user)
        .annotate(node_count=Count("nodes", distinct=True))
        .order_by("name")
    )


def case_for_user(*, user, case_id: int) -> SafetyCase:
    """The case, if the user is a member; otherwise NotFound, so that case names do not leak."""
    memberships = Membership.objects.filter(user=user) if user.is_authenticated else None
    case = (
        SafetyCase.objects.filter(pk=case_id, memberships__user=user)
        .prefetch_related(Prefetch("memberships", queryset=memberships, to_attr="own"))
        .first()
        if user.is_authenticated
        else None
    )
    if case is None:
        raise NotFound(f"There is no case {case_id} that you can see.")
    case._role_cache = {user.pk: case.own[0].role}
    return case


def case_nodes(*, case: SafetyCase) -> QuerySet[Node]:
    return Node.objects.filter(case=case).order_by("identifier")


def case_links(*, case: SafetyCase) -> QuerySet[Link]:
    return (
        Link.objects.filter(case=case)
        .select_related("source", "target")
        .order_by("source__identifier", "type", "target__identifier")
    )


def node_for_case(*, case: SafetyCase, identifier: str) -> Node:
    node = Node.objects.filter(case=case, identifier=identifier).first()
    if node is None:
        raise NotFound(f"Case {case.pk} has no node {identifier!r}.")
    return node


def argument_from_rows(*, case: SafetyCase, nodes: list[Node], links: list[Link]) -> Argument:
    return Argument(
        elements=[
            Element(
                identifier=node.identifier,
                type=node.type,
                statement=node.statement,
                undeveloped=node.undeveloped,
                module=node.module,
                attributes=node.attributes,
            )
            for node in nodes
        ],
        relations=[
            Relation(
                source=link.source.identifier,
                target=link.target.identifier,
                type=link.type,
                target_relation=link.target_relation,
            )
            for link in links
        ],
        modules=case.modules,
    )


def case_argument(*, case: SafetyCase) -> Argument:
    """The case as a plain Argument for the pure GSN code (two queries)."""
    return argument_from_rows(
        case=case, nodes=list(case_nodes(case=case)), links=list(case_links(case=case))
    )


def case_findings(*, case: SafetyCase) -> list[Finding]:
    """GSN well-formedness findings (rules R1–R16) for the case as it is stored."""
    return check_argument(case_argument(case=case))


def case_diagram_svg(
    *, case: SafetyCase, module: str | None = None, statuses: dict[str, str] | None = None
) -> str:
    """The case's GSN diagram (or one module of it) as inline SVG; every node links to its page.

    `statuses` maps identifiers to "supported" / "defeated" / "at_risk" / "undeveloped" fills.
    """

    def node_url(identifier: str) -> str | None:
        try:
            return reverse("node_detail", args=[case.pk, identifier])
        except NoReverseMatch:  # an imported identifier the URL pattern cannot carry
            return None

    dot_source = argument_dot(
        case_argument(case=case), node_url=node_url, statuses=statuses, module=module
    )
    return render_svg(dot_source)


def case_by_id_or_name(*, reference: str) -> SafetyCase:
    """The case with this id (when `reference` is all digits) or else this exact name."""
    case = None
    if reference.isdigit():
        case = SafetyCase.objects.filter(pk=int(reference)).first()
    if case is None:
        case = SafetyCase.objects.filter(name=reference).first()
    if case is None:
        raise NotFound(f"There is no case with the id or name {reference!r}.")
    return case


def case_bindings(*, case: SafetyCase) -> QuerySet[EvidenceBinding]:
    """Evidence bindings and assumption checks of the case, with their nodes."""
    return (
        EvidenceBinding.objects.filter(case=case)
        .select_related("node")
        .order_by("node__identifier", "id")
    )


def template_library():
    """The scheming argument library (loaded and validated once per process)."""
    from safetycase.library import default_library

    return default_library()
