"""The case's GSN diagrams as inline SVG, every node linking to its page."""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping
from datetime import UTC, datetime

from django.core.cache import cache
from django.db import connection
from django.urls import NoReverseMatch, reverse
from django.utils.text import compress_string

from safetycase.adapters.graphviz import render_svg
from safetycase.conf import setting
from safetycase.core.diagrams import argument_dot
from safetycase.core.gsn import navigation
from safetycase.core.gsn.model import Argument
from safetycase.models import Link, Node, SafetyCase
from safetycase.selectors.cases import case_argument

# Part of every diagram ETag: change it when the drawing itself changes (a new renderer or
# style), so that browsers do not keep diagrams drawn the old way.
DIAGRAM_DRAWING = "gsn-svg-1"
DIAGRAM_BYTES_PREFIX = "safetycase:diagram-bytes:"
VIEW_SVG_PREFIX = "safetycase:view-svg:"


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


def case_diagram_etag(*, case: SafetyCase) -> str:
    """A strong ETag of `case_diagram_svg(case=case)`, from small aggregates of the argument
    (`argument_fingerprint`) rather than the drawing: it changes whenever the argument does."""
    return case_diagram_validators(case=case)[0]


def case_diagram_validators(*, case: SafetyCase) -> tuple[str, datetime | None]:
    """(`case_diagram_etag`, the latest time the case or one of its nodes was saved) in one
    query. The time is for Last-Modified only: a deleted link leaves none behind."""
    version = _argument_version(case)
    return _etag(DIAGRAM_DRAWING, case.pk, *version), _latest_time(version)


def case_diagram_bytes(*, case: SafetyCase, etag: str) -> tuple[bytes, bytes]:
    """(SVG, the same gzipped) of `case_diagram_svg(case=case)`, kept in the cache under its
    ETag: a read of an unchanged argument neither loads nor draws it, nor compresses it."""
    key = DIAGRAM_BYTES_PREFIX + etag.strip('"')
    kept = cache.get(key)
    if kept is None:
        svg = case_diagram_svg(case=case).encode()
        kept = (svg, compress_string(svg))
        cache.set(key, kept, timeout=setting("DIAGRAM_CACHE_SECONDS"))
    return kept


def case_detail_etag(*, case: SafetyCase) -> str:
    """A strong ETag of the case API's answer (the case, its project's name, its nodes and
    links): it changes whenever any of them does."""
    return case_detail_validators(case=case)[0]


def case_detail_validators(*, case: SafetyCase) -> tuple[str, datetime | None]:
    """(`case_detail_etag`, Last-Modified as in `case_diagram_validators`) in one query."""
    version = _argument_version(case)
    return _etag("case-detail-1", case.pk, *version), _latest_time(version)


def _latest_time(version: tuple) -> datetime | None:
    case_updated, _, _, node_latest, _, _ = version
    return max((t for t in (case_updated, node_latest) if t), default=None)


def _argument_version(case: SafetyCase) -> tuple:
    """What the case's own row, its project's name, its nodes and its links are at now, in one
    query: an edited row moves a latest time or id, a deleted one changes a count. Written in
    SQL: built through the ORM's subqueries, the same statement took five times as long to
    compose as to run, on every read of the diagram and the case API."""
    tables = {
        "case": SafetyCase._meta.db_table,
        "project": SafetyCase._meta.get_field("project").related_model._meta.db_table,
        "node": Node._meta.db_table,
        "link": Link._meta.db_table,
    }
    sql = (
        'SELECT c.updated_at, p.name, (SELECT COUNT(*) FROM "{node}" WHERE case_id = c.id), '
        '(SELECT MAX(updated_at) FROM "{node}" WHERE case_id = c.id), '
        '(SELECT COUNT(*) FROM "{link}" WHERE case_id = c.id), '
        '(SELECT MAX(id) FROM "{link}" WHERE case_id = c.id) '
        'FROM "{case}" c JOIN "{project}" p ON p.id = c.project_id WHERE c.id = %s'
    ).format(**tables)
    with connection.cursor() as cursor:
        cursor.execute(sql, [case.pk])
        row = cursor.fetchone()
    if row is None:
        raise SafetyCase.DoesNotExist(f"No case {case.pk}.")
    # SQLite's raw cursor answers times as text; the ETag must not depend on the database.
    return tuple(_as_time(v) if i in (0, 3) else v for i, v in enumerate(row))


def _as_time(value):
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


def _etag(*parts) -> str:
    return '"' + hashlib.sha256(repr(parts).encode()).hexdigest()[:32] + '"'


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
    of the `folded` elements are left out (`navigation.fold`), each folded element showing the
    statuses of what it hides; `challenged` marks elements with open review challenges
    (`open_challenge_counts`).

    The drawing is kept in the cache under what it is drawn from (the argument, the statuses
    of the assessment, the part shown, the folds, the challenges), so that the status-coloured
    diagram of an assessment is drawn once, not on every page view; a new assessment or edit
    gives a new key."""
    key = (
        VIEW_SVG_PREFIX
        + hashlib.sha256(
            repr(
                (
                    DIAGRAM_DRAWING,
                    case.pk,
                    argument,
                    sorted((statuses or {}).items()),
                    view,
                    module,
                    sorted(folded),
                    sorted((challenged or {}).items()),
                )
            ).encode()
        ).hexdigest()
    )
    svg = cache.get(key)
    if svg is None:
        svg = _draw_view(case, argument, statuses, view, module, folded, challenged)
        cache.set(key, svg, timeout=setting("DIAGRAM_CACHE_SECONDS"))
    return svg


def _draw_view(case, argument, statuses, view, module, folded, challenged) -> str:
    if view:
        argument, module = navigation.argument_view(argument, view)
    rollups = navigation.fold_rollups(argument, folded, statuses or {})
    argument, hidden = navigation.fold(argument, folded)
    dot_source = argument_dot(
        argument,
        rollups=rollups,
        node_url=lambda identifier: node_url(case.pk, identifier),
        statuses=statuses,
        module=module,
        folded=hidden,
        challenged=challenged,
    )
    return render_svg(dot_source)
