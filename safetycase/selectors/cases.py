"""Reads of cases and their argument. Both the web UI and the API go through these."""

from __future__ import annotations

from django.db.models import Count, OuterRef, Prefetch, QuerySet, Subquery

from safetycase import facts, projects
from safetycase.choices import AssessmentStatus, AssessmentTrigger
from safetycase.core.gsn.model import Argument, Finding
from safetycase.core.gsn.rules import check_argument
from safetycase.errors import NotFound
from safetycase.models import (
    Assessment,
    Attestation,
    Challenge,
    EvidenceBinding,
    Link,
    Membership,
    Node,
    SafetyCase,
    Version,
)


def cases_for_user(*, user) -> QuerySet[SafetyCase]:
    """The cases a user is a member of, with node counts; empty for anonymous users."""
    if not user.is_authenticated:
        return SafetyCase.objects.none()
    mine = SafetyCase.objects.filter(projects.member_of_case_q(user)).values("pk")
    return (
        SafetyCase.objects.filter(pk__in=mine)
        .annotate(node_count=Count("nodes", distinct=True))
        .order_by("name")
    )


def case_for_user(*, user, case_id: int) -> SafetyCase:
    """The case, if the user is a member; otherwise NotFound, so that case names do not leak."""
    memberships = Membership.objects.filter(user=user) if user.is_authenticated else None
    case = (
        SafetyCase.objects.filter(pk=case_id)
        .select_related("project")
        .prefetch_related(Prefetch("memberships", queryset=memberships, to_attr="own"))
        .first()
        if user.is_authenticated
        else None
    )
    role = (
        projects.effective_role(
            user=user, case=case, case_role=case.own[0].role if case.own else None
        )
        if case is not None
        else None
    )
    if role is None:
        raise NotFound(f"There is no case {case_id} that you can see.")
    case._role_cache = {user.pk: role}
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
    node.case = case  # keeps the membership cache of the selector that loaded the case
    return node


def case_argument(*, case: SafetyCase) -> Argument:
    """The case as a plain Argument for the pure GSN code (two queries)."""
    return facts.argument(
        nodes=case_nodes(case=case), links=case_links(case=case), modules=case.modules
    )


def case_findings(*, case: SafetyCase) -> list[Finding]:
    """GSN well-formedness findings (rules R1–R16) for the case as it is stored."""
    return check_argument(case_argument(case=case))


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
    from safetycase.core.library import default_library

    return default_library()


def latest_assessment(*, case: SafetyCase) -> Assessment | None:
    """The case's latest complete assessment (a failed one records only why it stopped)."""
    return (
        Assessment.objects.filter(case=case, status=AssessmentStatus.COMPLETE)
        .order_by("-created_at", "-id")
        .first()
    )


def case_overviews_for_user(*, user) -> list[SafetyCase]:
    """The user's cases for the case list (two queries). Each case carries `latest`, its latest
    assessment, and `last_evidence`, the latest assessment that new evidence triggered (None
    when there is none); both without their per-node data."""
    newest = Assessment.objects.filter(
        case=OuterRef("pk"), status=AssessmentStatus.COMPLETE
    ).order_by("-created_at", "-id")
    cases = list(
        cases_for_user(user=user).annotate(
            latest_id=Subquery(newest.values("pk")[:1]),
            evidence_id=Subquery(
                newest.filter(trigger=AssessmentTrigger.RUN_INGESTED).values("pk")[:1]
            ),
        )
    )
    wanted = {c.latest_id for c in cases} | {c.evidence_id for c in cases}
    wanted.discard(None)
    by_id = (
        Assessment.objects.defer("statuses", "reasons", "flags", "changes").in_bulk(wanted)
        if wanted
        else {}
    )
    for case in cases:
        case.latest = by_id.get(case.latest_id)
        case.last_evidence = by_id.get(case.evidence_id)
    return cases


def assessment_history(*, case: SafetyCase, limit: int = 10) -> list[Assessment]:
    """The case's latest assessments, newest first, with what changed in each (one query)."""
    return list(
        Assessment.objects.filter(case=case)
        .order_by("-created_at", "-id")
        .defer("statuses", "reasons", "flags")[:limit]
    )


def open_challenge_counts(*, case: SafetyCase) -> dict[str, int]:
    """Node identifier → number of open review challenges on it (one query)."""
    rows = (
        Challenge.objects.filter(case=case, state=Challenge.State.OPEN)
        .values("node__identifier")
        .annotate(count=Count("id"))
    )
    return {row["node__identifier"]: row["count"] for row in rows}


def node_attestations(*, node: Node) -> QuerySet[Attestation]:
    return (
        Attestation.objects.filter(node=node)
        .select_related("attested_by")
        .order_by("-created_at", "-id")
    )


def latest_versions(*, cases) -> dict[int, Version]:
    """Each case's newest signed-off Version (absent when none), in one query and without the
    snapshots."""
    latest: dict[int, Version] = {}
    versions = (
        Version.objects.filter(case__in=[case.pk for case in cases])
        .select_related("created_by")
        .defer("snapshot")
        .order_by("case_id", "-number")
    )
    for version in versions:
        latest.setdefault(version.case_id, version)
    return latest


def node_history(*, node: Node, limit: int = 20):
    """The node's latest recorded changes with who made them, newest first."""
    return node.history.select_related("history_user").order_by("-history_date")[:limit]


def node_identifiers(*, case: SafetyCase) -> list[str]:
    return list(Node.objects.filter(case=case).values_list("identifier", flat=True))


def node_links(*, case: SafetyCase, node: Node) -> QuerySet[Link]:
    """The links from and to the node, with their ends."""
    links = Link.objects.filter(case=case, source=node) | Link.objects.filter(
        case=case, target=node
    )
    return links.select_related("source", "target")


def link_for_case(*, case: SafetyCase, link_id: int) -> Link:
    link = Link.objects.filter(case=case, pk=link_id).select_related("source", "target").first()
    if link is None:
        raise NotFound(f"Case {case.pk} has no link {link_id}.")
    link.case = case  # keeps the membership cache of the selector that loaded the case
    return link


def binding_for_case(*, case: SafetyCase, binding_id: int) -> EvidenceBinding:
    binding = (
        EvidenceBinding.objects.filter(case=case, pk=binding_id).select_related("node").first()
    )
    if binding is None:
        raise NotFound(f"Case {case.pk} has no binding {binding_id}.")
    binding.case = case  # keeps the membership cache of the selector that loaded the case
    return binding


def node_bindings(*, node: Node) -> QuerySet[EvidenceBinding]:
    return EvidenceBinding.objects.filter(node=node).order_by("id")


def case_argument_of(*, case: SafetyCase, nodes: list[Node]) -> Argument:
    """The case's argument from nodes the caller already loaded (one query for the links)."""
    return facts.argument(nodes=nodes, links=case_links(case=case), modules=case.modules)


def case_or_none(*, case_id: int) -> SafetyCase | None:
    """The case with this id, or None when it was deleted (workers get ids, not rows)."""
    return SafetyCase.objects.filter(pk=case_id).first()


def all_case_ids() -> list[int]:
    return list(SafetyCase.objects.values_list("pk", flat=True))
