"""The case's GSN diagrams as inline SVG, every node linking to its page."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from django.urls import NoReverseMatch, reverse

from safetycase.adapters.graphviz import render_svg
from safetycase.core.diagrams import argument_dot
from safetycase.core.gsn import navigation
from safetycase.core.gsn.model import Argument
from safetycase.models import SafetyCase
from safetycase.selectors.cases import case_argument


def node_url(case_id: int, identifier: str) -> str | None:
    """The node's page; None for an imported identifier the URL pattern cannot carry."""
    try:
        return reverse("node_detail", args=[case_id, identifier])
    except NoReverseMatch:
        return None


def case_diagram_svg(
    *, case: SafetyCase, module: str | None = None, statuses: dict[str, str] | None = None
) -> str:
    """The case's GSN diagram (or one module of it) as inline SVG; every node links to its page.

    `statuses` maps identifiers to "supported" / "defeated" / "at_risk" / "undeveloped" fills.
    """

    dot_source = argument_dot(
        case_argument(case=case),
        node_url=lambda identifier: node_url(case.pk, identifier),
        statuses=statuses,
        module=module,
    )
    return render_svg(dot_source)


def case_view_svg(
    *,
    case: SafetyCase,
    argument: Argument,
    statuses: dict[str, str] | None = None,
    view: str | None = None,
    module: str | None = None,
    folded: Collection[str] = (),
    challenged: Mapping[str, int] | None = None,
) -> str:
    """The diagram of the whole case, one argument view (`navigation.argument_views`) or one
    module, drawn from an Argument the caller already loaded (no queries); the sub-arguments
    of the `folded` elements are left out (`navigation.fold`); `challenged` marks elements with
    open review challenges (`open_challenge_counts`)."""
    if view:
        argument, module = navigation.argument_view(argument, view)
    argument, hidden = navigation.fold(argument, folded)
    dot_source = argument_dot(
        argument,
        node_url=lambda identifier: node_url(case.pk, identifier),
        statuses=statuses,
        module=module,
        folded=hidden,
        challenged=challenged,
    )
    return render_svg(dot_source)
