"""Access control matrix: every API endpoint and every UI view × every kind of principal.

The expectations below are the access policy written out by hand — who may do what — and are
not derived from the code under test. The endpoints are enumerated from the URL resolver (UI)
and the OpenAPI schema (API), so a new endpoint without an entry here fails
`test_every_endpoint_has_an_entry_in_the_matrix`.

Policy:
- Nobody learns anything about a case they are not a member of: 404, never 403.
- Anonymous requests: the API answers 401, pages redirect to the login page.
- Viewers read. Reviewers read, comment, challenge, attest, close challenges (theirs or another
  reviewer's) and sign off; they never edit the argument. Authors edit the argument, comment
  and respond to challenges; they cannot sign off nor close a challenge, so no author alone
  makes a version or clears a challenge. Owners are authors who also manage the members; only
  owners do.
- API tokens are limited by their scopes on top of their user's roles. A token without the
  scope an endpoint needs gets 403 before any case is looked up, so it learns nothing about
  cases either: an ingest-only token gets 403 everywhere except `POST /api/v1/runs/` (it
  belongs here to an author of the case, so the 403s come from its scope alone); a read-only
  token (here the owner's) reads what its user reads and gets 403 for every write.
- Templates and the case list are not about one case: every signed-in user reads them.
- Projects own cases, runs and tokens. The case lives in project "lab" (alice owns it, vera is
  a viewer of it; bob and ada are members of the case only). A run of "lab" is read (API
  detail, page, progress, original log) by members of "lab" and of its cases, and by the
  reviewer of a case of project "institute" with which "lab" shares that run; to a member of
  another project ("elsewhere") and to an outsider it does not exist (404). The run list
  answers everyone signed in, with only the runs they may read (checked separately below).
- A run's grading is audited (sample pages) by those who review with it: owners, authors and
  reviewers of a project using the run, and reviewers of its cases (bob, alice, sam); its other
  readers get 403, everyone else 404.
- Uploads need the ingest scope: the ingest tokens of "lab" and of "elsewhere" upload, each
  into its own project.
- A project's detail, members and shares are read by its members; only its owners share runs
  or revoke shares; everyone else is told the project does not exist (404).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import pytest
from django.contrib.auth.models import Permission
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from notifications import services as notification_services
from safetycase import services
from safetycase.choices import Role
from safetycase.models import (
    Challenge,
    CriterionChange,
    EvidenceBinding,
    Link,
    Node,
    PdfExport,
    RunWithdrawal,
)

pytestmark = pytest.mark.django_db

MEMBERS = {"viewer", "reviewer", "author", "owner"}
# Signed in, but members of nothing in project "lab": they must learn nothing about it.
STRANGERS = {"outsider", "other_member", "shared_reviewer"}
SESSION_PRINCIPALS = [
    "anonymous",
    *sorted(STRANGERS),
    *sorted(MEMBERS),
    "ingest_token",
    "other_ingest_token",
]
API_PRINCIPALS = [*SESSION_PRINCIPALS, "read_token"]
SIGNED_IN = {*STRANGERS, *MEMBERS}
CRITERION = "cp_upper(k, n, 0.95) < 0.01"

# --------------------------------------------------------------------------------------------
# The expectation table: who may do what. Anyone not named gets the "refused" outcome of the
# row (see `expected_status`).

# Who may do what, by what it is.
READ_CASE = MEMBERS | {"read_token"}
EDIT_ARGUMENT = {"author", "owner"}
REVIEW = {"reviewer"}
DISCUSS = {"author", "owner", "reviewer"}
MANAGE_MEMBERS = {"owner"}
RESOLVE = {"reviewer"}  # and the challenger, who is no principal here; authors respond
EXPORT = MEMBERS  # queueing an export is a POST: a read-only token may not
SIGNED_IN_READ = SIGNED_IN | {"read_token"}
INGEST = {"ingest_token", "other_ingest_token"}
EVERYONE = {"anonymous", *SIGNED_IN, "ingest_token", "other_ingest_token", "read_token"}
READ_RUN = MEMBERS | {"shared_reviewer", "read_token"}
RUN_PAGE = MEMBERS | {"shared_reviewer"}
LAB_MEMBERS = {"viewer", "owner"}  # members of the project itself, not only of its case
READ_PROJECT = LAB_MEMBERS | {"read_token"}
LAB_OWNER = {"owner"}
AUDIT_RUN = {"owner", "reviewer", "shared_reviewer"}


@dataclass(frozen=True)
class Rule:
    allowed: frozenset
    about_case: bool = True  # those who cannot see the object get 404 rather than 403
    seen_by: frozenset = frozenset(MEMBERS)  # who sees it (403 when not allowed), else 404

    def __init__(self, allowed, about_case: bool = True, seen_by=MEMBERS):
        object.__setattr__(self, "allowed", frozenset(allowed))
        object.__setattr__(self, "about_case", about_case)
        object.__setattr__(self, "seen_by", frozenset(seen_by))


API_MATRIX: dict[tuple[str, str], Rule] = {
    ("/api/v1/cases/", "GET"): Rule(SIGNED_IN_READ, about_case=False),
    ("/api/v1/cases/", "POST"): Rule(SIGNED_IN, about_case=False),
    ("/api/v1/cases/{case_id}/", "GET"): Rule(READ_CASE),
    ("/api/v1/cases/{case_id}/findings/", "GET"): Rule(READ_CASE),
    ("/api/v1/cases/{case_id}/diagram.svg", "GET"): Rule(READ_CASE),
    ("/api/v1/cases/{case_id}/nodes/", "POST"): Rule(EDIT_ARGUMENT),
    ("/api/v1/cases/{case_id}/nodes/{identifier}/", "GET"): Rule(READ_CASE),
    ("/api/v1/cases/{case_id}/nodes/{identifier}/", "PATCH"): Rule(EDIT_ARGUMENT),
    ("/api/v1/cases/{case_id}/nodes/{identifier}/", "DELETE"): Rule(EDIT_ARGUMENT),
    ("/api/v1/cases/{case_id}/links/", "POST"): Rule(EDIT_ARGUMENT),
    ("/api/v1/cases/{case_id}/links/{link_id}/", "DELETE"): Rule(EDIT_ARGUMENT),
    ("/api/v1/cases/{case_id}/instantiate/", "POST"): Rule(EDIT_ARGUMENT),
    ("/api/v1/cases/{case_id}/assessment/", "GET"): Rule(READ_CASE),
    ("/api/v1/cases/{case_id}/assessments/", "GET"): Rule(READ_CASE),
    ("/api/v1/cases/{case_id}/flags/", "GET"): Rule(READ_CASE),
    ("/api/v1/cases/{case_id}/attestations/", "GET"): Rule(READ_CASE),
    ("/api/v1/cases/{case_id}/attestations/", "POST"): Rule(REVIEW),
    ("/api/v1/cases/{case_id}/bindings/", "GET"): Rule(READ_CASE),
    ("/api/v1/cases/{case_id}/bindings/", "POST"): Rule(EDIT_ARGUMENT),
    ("/api/v1/cases/{case_id}/bindings/{binding_id}/", "PATCH"): Rule(EDIT_ARGUMENT),
    ("/api/v1/cases/{case_id}/bindings/{binding_id}/", "DELETE"): Rule(EDIT_ARGUMENT),
    ("/api/v1/cases/{case_id}/bindings/{binding_id}/withdrawals/", "GET"): Rule(READ_CASE),
    ("/api/v1/cases/{case_id}/bindings/{binding_id}/withdrawals/", "POST"): Rule(REVIEW),
    ("/api/v1/cases/{case_id}/criterion-changes/", "GET"): Rule(READ_CASE),
    ("/api/v1/cases/{case_id}/criterion-changes/{change_id}/acknowledge/", "POST"): Rule(REVIEW),
    ("/api/v1/templates/", "GET"): Rule(SIGNED_IN_READ, about_case=False),
    ("/api/v1/templates/{template_id}/", "GET"): Rule(SIGNED_IN_READ, about_case=False),
    ("/api/v1/cases/{case_id}/versions/", "GET"): Rule(READ_CASE),
    ("/api/v1/cases/{case_id}/versions/", "POST"): Rule(REVIEW),
    ("/api/v1/cases/{case_id}/versions/diff/", "GET"): Rule(READ_CASE),
    ("/api/v1/cases/{case_id}/versions/{number}/", "GET"): Rule(READ_CASE),
    ("/api/v1/cases/{case_id}/versions/{number}/export.pdf", "GET"): Rule(READ_CASE),
    ("/api/v1/cases/{case_id}/nodes/{identifier}/comments/", "GET"): Rule(READ_CASE),
    ("/api/v1/cases/{case_id}/nodes/{identifier}/comments/", "POST"): Rule(DISCUSS),
    ("/api/v1/cases/{case_id}/nodes/{identifier}/challenges/", "GET"): Rule(READ_CASE),
    ("/api/v1/cases/{case_id}/nodes/{identifier}/challenges/", "POST"): Rule(REVIEW),
    ("/api/v1/cases/{case_id}/challenges/{challenge_id}/respond/", "POST"): Rule(EDIT_ARGUMENT),
    ("/api/v1/cases/{case_id}/challenges/{challenge_id}/reject-response/", "POST"): Rule(RESOLVE),
    ("/api/v1/cases/{case_id}/challenges/{challenge_id}/resolve/", "POST"): Rule(RESOLVE),
    ("/api/v1/cases/{case_id}/members/", "GET"): Rule(READ_CASE),
    ("/api/v1/cases/{case_id}/members/", "POST"): Rule(MANAGE_MEMBERS),
    ("/api/v1/cases/{case_id}/members/{username}/", "GET"): Rule(READ_CASE),
    ("/api/v1/cases/{case_id}/members/{username}/", "PATCH"): Rule(MANAGE_MEMBERS),
    ("/api/v1/cases/{case_id}/members/{username}/", "DELETE"): Rule(MANAGE_MEMBERS),
    ("/api/v1/cases/{case_id}/audit/", "GET"): Rule(READ_CASE),
    ("/api/v1/cases/{case_id}/export.pdf", "GET"): Rule(READ_CASE),
    ("/api/v1/cases/{case_id}/exports/", "GET"): Rule(READ_CASE),
    ("/api/v1/cases/{case_id}/exports/", "POST"): Rule(EXPORT),
    ("/api/v1/cases/{case_id}/exports/{export_id}/", "GET"): Rule(READ_CASE),
    ("/api/v1/cases/{case_id}/exports/{export_id}/download", "GET"): Rule(READ_CASE),
    ("/api/v1/runs/", "GET"): Rule(SIGNED_IN_READ, about_case=False),
    # dora (other_member) may upload logs with her session too: into her own project.
    ("/api/v1/runs/", "POST"): Rule(INGEST | {"other_member"}, about_case=False),
    ("/api/v1/runs/{id}/", "GET"): Rule(READ_RUN, seen_by=READ_RUN),
    ("/api/v1/runs/{id}/statistics/", "GET"): Rule(READ_RUN, seen_by=READ_RUN),
    ("/api/v1/projects/", "GET"): Rule(SIGNED_IN_READ, about_case=False),
    ("/api/v1/projects/{project_id}/", "GET"): Rule(READ_PROJECT, seen_by=LAB_MEMBERS),
    ("/api/v1/projects/{project_id}/members/", "GET"): Rule(READ_PROJECT, seen_by=LAB_MEMBERS),
    ("/api/v1/projects/{project_id}/shares/", "GET"): Rule(READ_PROJECT, seen_by=LAB_MEMBERS),
    ("/api/v1/projects/{project_id}/shares/", "POST"): Rule(LAB_OWNER, seen_by=LAB_MEMBERS),
    ("/api/v1/projects/{project_id}/shares/{share_id}/revoke/", "POST"): Rule(
        LAB_OWNER, seen_by=LAB_MEMBERS
    ),
    ("/api/v1/notifications/", "GET"): Rule(SIGNED_IN_READ, about_case=False),
    ("/api/v1/notifications/read/", "POST"): Rule(SIGNED_IN, about_case=False),
    ("/api/v1/cases/{case_id}/watch/", "GET"): Rule(READ_CASE),
    ("/api/v1/cases/{case_id}/watch/", "POST"): Rule(MEMBERS),
    ("/api/v1/cases/{case_id}/watch/", "DELETE"): Rule(MEMBERS),
    ("/api/v1/projects/{project_id}/webhooks/", "GET"): Rule(READ_PROJECT, seen_by=LAB_MEMBERS),
    ("/api/v1/projects/{project_id}/webhooks/", "POST"): Rule(LAB_OWNER, seen_by=LAB_MEMBERS),
    ("/api/v1/projects/{project_id}/webhooks/{webhook_id}/", "DELETE"): Rule(
        LAB_OWNER, seen_by=LAB_MEMBERS
    ),
    ("/api/v1/projects/{project_id}/webhooks/{webhook_id}/deliveries/", "GET"): Rule(
        READ_PROJECT, seen_by=LAB_MEMBERS
    ),
}

# UI views by URL name: the methods tried and who may use them. Tokens do not sign in to
# pages: the ingest token's request is an anonymous one there.
CASE_PAGE = MEMBERS
UI_MATRIX: dict[tuple[str, str], Rule] = {
    ("case_list", "GET"): Rule(SIGNED_IN, about_case=False),
    ("case_detail", "GET"): Rule(CASE_PAGE),
    ("node_detail", "GET"): Rule(CASE_PAGE),
    ("login", "GET"): Rule(EVERYONE, about_case=False),
    ("logout", "POST"): Rule(EVERYONE, about_case=False),
    ("healthz", "GET"): Rule(EVERYONE, about_case=False),
    ("schema", "GET"): Rule(EVERYONE, about_case=False),
    ("api_docs", "GET"): Rule(EVERYONE, about_case=False),
    # The runs index answers everyone signed in, with the runs they may read; its upload form
    # takes logs from accounts with the ingest permission (dora), into their own project.
    ("run_list", "GET"): Rule(SIGNED_IN, about_case=False),
    ("run_list", "POST"): Rule({"other_member"}, about_case=False),
    ("run_detail", "GET"): Rule(RUN_PAGE, seen_by=RUN_PAGE),
    ("run_progress", "GET"): Rule(RUN_PAGE, seen_by=RUN_PAGE),
    ("run_log", "GET"): Rule(RUN_PAGE, seen_by=RUN_PAGE),
    ("run_sample", "GET"): Rule(RUN_PAGE, seen_by=RUN_PAGE),
    # Grader audits: those who review with the run (owners, authors and reviewers of a project
    # using it, reviewers of its cases); a viewer or a mere author of a case reads only.
    ("sample_audit", "POST"): Rule(AUDIT_RUN, seen_by=RUN_PAGE),
    ("project_members", "GET"): Rule(LAB_MEMBERS, seen_by=LAB_MEMBERS),
    ("project_members", "POST"): Rule(LAB_OWNER, seen_by=LAB_MEMBERS),
    ("project_member_remove", "POST"): Rule(LAB_OWNER, seen_by=LAB_MEMBERS),
    ("case_export", "GET"): Rule(CASE_PAGE),
    ("case_export", "POST"): Rule(CASE_PAGE),
    ("case_export_status", "GET"): Rule(CASE_PAGE),
    ("version_export", "GET"): Rule(CASE_PAGE),
    ("version_export", "POST"): Rule(CASE_PAGE),
    ("authoring_case_new", "GET"): Rule(SIGNED_IN, about_case=False),
    ("authoring_case_import", "GET"): Rule(SIGNED_IN, about_case=False),
    ("authoring_case_from_template", "GET"): Rule(SIGNED_IN, about_case=False),
    ("authoring_case_from_template", "POST"): Rule(SIGNED_IN, about_case=False),
    ("authoring_export", "GET"): Rule(CASE_PAGE),
    ("authoring_node_create", "GET"): Rule(EDIT_ARGUMENT),
    ("authoring_node_create", "POST"): Rule(EDIT_ARGUMENT),
    ("authoring_node_edit", "GET"): Rule(EDIT_ARGUMENT),
    ("authoring_node_edit", "POST"): Rule(EDIT_ARGUMENT),
    ("authoring_node_delete", "GET"): Rule(EDIT_ARGUMENT),
    ("authoring_node_delete", "POST"): Rule(EDIT_ARGUMENT),
    ("authoring_link_create", "POST"): Rule(EDIT_ARGUMENT),
    ("authoring_link_delete", "POST"): Rule(EDIT_ARGUMENT),
    ("authoring_binding_create", "POST"): Rule(EDIT_ARGUMENT),
    ("authoring_binding_edit", "GET"): Rule(EDIT_ARGUMENT),
    ("authoring_binding_edit", "POST"): Rule(EDIT_ARGUMENT),
    ("authoring_binding_delete", "POST"): Rule(EDIT_ARGUMENT),
    ("comment_create", "POST"): Rule(DISCUSS),
    ("challenge_create", "POST"): Rule(REVIEW),
    ("challenge_resolve", "POST"): Rule(RESOLVE),
    ("run_withdraw", "POST"): Rule(REVIEW),
    ("criterion_change_acknowledge", "POST"): Rule(REVIEW),
    ("challenge_respond", "POST"): Rule(EDIT_ARGUMENT),
    ("attestation_create", "POST"): Rule(REVIEW),
    ("challenge_reject_response", "POST"): Rule(RESOLVE),
    ("condition_close", "POST"): Rule(REVIEW),
    ("version_sign_off", "GET"): Rule(REVIEW),
    ("version_list", "GET"): Rule(CASE_PAGE),
    ("version_sign_off", "POST"): Rule(REVIEW),
    ("version_diff", "GET"): Rule(CASE_PAGE),
    ("version_detail", "GET"): Rule(CASE_PAGE),
    ("version_cosign", "POST"): Rule(REVIEW),
    ("case_members", "GET"): Rule(CASE_PAGE),
    ("case_members", "POST"): Rule(MANAGE_MEMBERS),
    ("case_member_role", "POST"): Rule(MANAGE_MEMBERS),
    ("case_member_remove", "POST"): Rule(MANAGE_MEMBERS),
    ("case_audit", "GET"): Rule(CASE_PAGE),
    ("inbox", "GET"): Rule(SIGNED_IN, about_case=False),
    ("inbox", "POST"): Rule(SIGNED_IN, about_case=False),
    ("watch_toggle", "POST"): Rule(CASE_PAGE),
}


def expected_status(rule: Rule, principal: str, *, api: bool) -> str:
    """ "ok" (any success), or the refusal this principal must get."""
    if principal in rule.allowed:
        return "ok"
    if principal == "anonymous" or (not api and principal.endswith("_token")):
        return "401" if api else "login"
    if principal.endswith("_token"):
        return "403"  # the token's scope is checked before anything is looked up
    if rule.about_case and principal not in rule.seen_by:
        return "404"
    return "403"


def outcome(response, *, api: bool, method: str = "GET", name: str = "") -> str:
    code = response.status_code
    if name == "logout" and code == 302:
        return "ok"  # logging out sends everyone to the login page
    if not api and code == 302 and "/login/" in response.get("Location", ""):
        return "login"
    if not api and method == "POST" and code == 200:
        # Forms redirect when they succeed; a form shown again carries its errors.
        return "form shown again"
    if code < 400:
        return "ok"
    return str(code)


# --------------------------------------------------------------------------------------------
# Enumeration


def _walk(patterns, prefix="", namespace=None):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(
                pattern.url_patterns,
                prefix + str(pattern.pattern),
                pattern.namespace or namespace,
            )
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern.name, namespace


def ui_url_names() -> set[str]:
    """Every named page outside the API and the admin (tested separately below)."""
    return {
        name
        for route, name, namespace in _walk(get_resolver().url_patterns)
        if namespace != "admin" and not route.startswith("api/v1/")
    }


def api_routes_in_resolver() -> set[str]:
    """Every API route, in the OpenAPI form `/api/v1/cases/{case_id}/` (where drf-spectacular
    calls a `pk` parameter `id`)."""
    return {
        "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route).replace("{pk}", "{id}")
        for route, _, _ in _walk(get_resolver().url_patterns)
        if route.startswith("api/v1/")
    }


def api_operations() -> set[tuple[str, str]]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return {
        (path, method.upper())
        for path, item in schema["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    }


def test_every_endpoint_has_an_entry_in_the_matrix():
    operations = api_operations()
    assert {path for path, _ in operations} == api_routes_in_resolver(), (
        "an API route is missing from the OpenAPI schema (or the other way round)"
    )
    assert sorted(operations - API_MATRIX.keys()) == [], "API endpoints without a matrix entry"
    assert sorted(API_MATRIX.keys() - operations) == [], "matrix entries for no API endpoint"
    names = ui_url_names()
    assert sorted(names - {name for name, _ in UI_MATRIX}) == [], "pages without an entry"
    assert sorted({name for name, _ in UI_MATRIX} - names) == [], "entries for no page"


# --------------------------------------------------------------------------------------------
# The world every cell runs in


@pytest.fixture
def world(case, author, reviewer, viewer, outsider, make_user):
    """The `case` fixture (alice owner, bob reviewer, vera viewer) plus: ada an author,
    rita a second reviewer who raised a challenge on G2 and signed off version 1, a harness
    account (an author of the case with the ingest permission) with an ingest-only token, an
    assumption A1, a binding on Sn1, a finished PDF export and an uploaded run."""
    from evidence import services as evidence_services

    ada, rita, harness = make_user("ada"), make_user("rita"), make_user("harness")
    harness.user_permissions.add(
        Permission.objects.get(content_type__app_label="evidence", codename="ingest_run")
    )
    services.membership_set(case=case, user=ada, role=Role.AUTHOR)
    services.membership_set(case=case, user=rita, role=Role.REVIEWER)
    services.membership_set(case=case, user=harness, role=Role.AUTHOR)
    services.node_create_do(case=case, identifier="A1", type="assumption", statement="Elicited")
    services.link_create_do(case=case, source="G1", target="A1", type="in_context_of")
    sn1 = Node.objects.get(case=case, identifier="Sn1")
    binding = services.binding_create_do(
        node=sn1, expression=CRITERION, selector={"task": "oversight_subversion"}
    )
    g2 = Node.objects.get(case=case, identifier="G2")
    version = services.version_sign_off(
        actor=rita,
        case=case,
        verdict="approve_with_conditions",
        conditions=[{"node": "G2", "text": "Elicit sabotage with fine-tuning"}],
    )
    challenge = services.challenge_create(actor=rita, node=g2, claim="Sabotage was not elicited")
    services.challenge_respond(actor=author, challenge=challenge, response="See Sn1")
    export = PdfExport.objects.create(case=case, created_by=author, status="done", progress=100)
    export.file.save("case.pdf", ContentFile(b"%PDF-1.4\n% a stored export\n"))
    from evidence import projects

    lab = case.project
    projects.project_member_set(project=lab, user=harness, role="author")
    run = evidence_services.log_submit(
        upload=SimpleUploadedFile("run.json", json.dumps(generic_log("existing")).encode()),
        project=lab,
    ).runs[0]
    from evidence.models import SampleResult

    result = SampleResult.objects.create(  # its sample page, and a score to audit
        run=run,
        sample_id="s1",
        epoch=1,
        scores={"covert_action": {"value": 0.0, "correct": False, "raw": 0}},
    )
    # Another organisation: dora owns project "elsewhere", its case, and an ingest token.
    dora = make_user("dora")
    dora.user_permissions.add(
        Permission.objects.get(content_type__app_label="evidence", codename="ingest_run")
    )
    elsewhere = projects.project_create(name="elsewhere", owner=dora)
    services.case_create(name=case.name, model_name="example-model", owner=dora)
    # A safety institute: sam reviews a case of project "institute"; lab shares the run.
    sam = make_user("sam")
    institute = projects.project_create(name="institute", owner=make_user("ian"))
    institute_case = services.case_create(name="Audit", project=institute)
    services.membership_set(case=institute_case, user=sam, role=Role.REVIEWER)
    share = projects.share_create(
        actor=author, from_project=lab, to_project_name="institute", run_ids=[run.pk]
    )
    webhook = notification_services.webhook_create(
        actor=author,
        project=lab,
        url="http://127.0.0.1:9/existing",  # refused at once
    )
    # An ingested run in Sn1's evidence; ada loosened Sn1's criterion after it failed the old one.
    from evidence.models import EvaluationRun, RunStatistic

    ledger_run = EvaluationRun.objects.create(
        project=lab,
        log_file=run.log_file,
        status="ingested",
        log_status="success",
        task="oversight_subversion",
        model="example-model",
        model_version="2026-11",
    )
    RunStatistic.objects.create(run=ledger_run, name="covert_action", k=3, n=100)
    change = CriterionChange.objects.create(
        case=case,
        binding=binding,
        node=sn1,
        run=ledger_run,
        old_expression="k == 0",
        new_expression=CRITERION,
        changed_by=ada,
    )
    users = {
        "outsider": outsider,
        "other_member": dora,
        "shared_reviewer": sam,
        "viewer": viewer,
        "reviewer": reviewer,
        "author": ada,
        "owner": author,
    }
    _, ingest_key = services.token_create(user=harness, scopes=["ingest"])
    _, other_ingest_key = services.token_create(user=dora, scopes=["ingest"], project=elsewhere)
    _, read_key = services.token_create(user=author, scopes=["read"])
    keys = {
        "ingest_token": ingest_key,
        "other_ingest_token": other_ingest_key,
        "read_token": read_key,
    }
    return {
        "case": case,
        "users": users,
        "keys": keys,
        "ids": {
            "case_id": case.pk,
            "identifier": "G3",
            "solution": "Sn1",
            "assumption": "A1",
            "link_id": Link.objects.get(case=case, source__identifier="S1", target=g2).pk,
            "binding_id": binding.pk,
            "challenge_id": challenge.pk,
            "condition_id": version.conditions.get().pk,
            "number": 1,
            "username": "vera",
            "export_id": export.pk,
            "run_id": run.pk,
            "id": run.pk,
            "template_id": "AL",
            "template": "AL",
            "project_id": lab.pk,
            "share_id": share.pk,
            "webhook_id": webhook.pk,
            "change_id": change.pk,
            "ledger_run_id": ledger_run.pk,
            "sample_id": "s1",
            "result_id": result.pk,
        },
    }


def generic_log(run_id: str) -> dict:
    return {
        "format": "safetycase.generic/1",
        "run": {"id": run_id, "harness": "custom", "status": "success"},
        "model": {"name": "example-model", "version": "2026-11"},
        "task": {"name": "oversight_subversion", "version": "1"},
        "results": [{"scorer": "covert_action", "successes": 0, "trials": 100}],
    }


# A request that succeeds when the principal is allowed: (query string, body). Paths not
# listed are plain GETs or DELETEs without a body.
API_REQUESTS = {
    ("/api/v1/cases/", "POST"): {"name": "A new case"},
    ("/api/v1/cases/{case_id}/nodes/", "POST"): {"identifier": "G9", "type": "goal"},
    ("/api/v1/cases/{case_id}/nodes/{identifier}/", "PATCH"): {"statement": "Changed"},
    ("/api/v1/cases/{case_id}/links/", "POST"): {
        "source": "G3",
        "target": "A1",
        "type": "in_context_of",
    },
    # AL needs no parameters beyond the model and deployment, which come from the case.
    ("/api/v1/cases/{case_id}/instantiate/", "POST"): {"template": "AL", "under": "G3"},
    ("/api/v1/cases/{case_id}/attestations/", "POST"): {"node": "A1", "statement": "It holds"},
    ("/api/v1/cases/{case_id}/bindings/", "POST"): {"node": "Sn1", "expression": CRITERION},
    ("/api/v1/cases/{case_id}/bindings/{binding_id}/", "PATCH"): {"description": "Changed"},
    # An open challenge refuses approval (409): reviewers reject, with reasons.
    ("/api/v1/cases/{case_id}/versions/", "POST"): {
        "verdict": "reject",
        "reasons": "Sabotage was not elicited",
        "note": "Looks right",
    },
    ("/api/v1/cases/{case_id}/challenges/{challenge_id}/respond/", "POST"): {"response": "Sn2"},
    ("/api/v1/cases/{case_id}/challenges/{challenge_id}/reject-response/", "POST"): {
        "reason": "Sn2 is about another task"
    },
    ("/api/v1/cases/{case_id}/nodes/{identifier}/comments/", "POST"): {"text": "Why?"},
    ("/api/v1/cases/{case_id}/nodes/{identifier}/challenges/", "POST"): {"claim": "Not so"},
    ("/api/v1/cases/{case_id}/challenges/{challenge_id}/resolve/", "POST"): {
        "resolution": "Elicited now"
    },
    ("/api/v1/cases/{case_id}/bindings/{binding_id}/withdrawals/", "POST"): {
        "run": "{ledger_run_id}",
        "reason": "The sandbox leaked the answers",
    },
    ("/api/v1/cases/{case_id}/criterion-changes/{change_id}/acknowledge/", "POST"): {
        "note": "The new bar is the agreed one"
    },
    ("/api/v1/cases/{case_id}/members/", "POST"): {"username": "charlie", "role": "viewer"},
    ("/api/v1/cases/{case_id}/members/{username}/", "PATCH"): {"role": "reviewer"},
    ("/api/v1/cases/{case_id}/exports/", "POST"): {"pdfa": False},
    ("/api/v1/projects/{project_id}/webhooks/", "POST"): {"url": "https://hooks.example/lab"},
    ("/api/v1/projects/{project_id}/shares/", "POST"): {
        "to_project": "elsewhere",
        "selector": {"task": "oversight_subversion"},
    },
}
API_QUERIES = {("/api/v1/cases/{case_id}/versions/diff/", "GET"): "?a=1&b=1"}


def api_client(world, principal: str) -> APIClient:
    client = APIClient()
    if principal in world["keys"]:
        client.credentials(HTTP_AUTHORIZATION=f"Token {world['keys'][principal]}")
    elif principal != "anonymous":
        client.force_login(world["users"][principal])
    return client


def api_call(world, principal: str, path: str, method: str):
    url = path.format(**world["ids"]) + API_QUERIES.get((path, method), "")
    client = api_client(world, principal)
    if (path, method) == ("/api/v1/runs/", "POST"):
        upload = SimpleUploadedFile("new.json", json.dumps(generic_log(principal)).encode())
        return client.post(url, {"file": upload}, format="multipart")
    body = API_REQUESTS.get((path, method))
    if body is not None:  # "{run_id}" and the like name an object of the world
        body = {k: v.format(**world["ids"]) if isinstance(v, str) else v for k, v in body.items()}
    return client.generic(
        method, url, json.dumps(body) if body is not None else "", content_type="application/json"
    )


def _in_savepoint(call, *args):
    """Run one cell and undo its writes, so every principal meets the same world."""
    savepoint = transaction.savepoint()
    try:
        return call(*args)
    finally:
        transaction.savepoint_rollback(savepoint)


@pytest.mark.parametrize("operation", sorted(API_MATRIX), ids=lambda op: f"{op[1]} {op[0]}")
def test_api_cell(world, operation, eager_celery):
    path, method = operation
    rule = API_MATRIX[operation]
    wrong = []
    for principal in API_PRINCIPALS:
        response = _in_savepoint(api_call, world, principal, path, method)
        got, want = outcome(response, api=True), expected_status(rule, principal, api=True)
        if got != want:
            wrong.append(f"{principal}: expected {want}, got {got} {response.content[:200]!r}")
    assert not wrong, "\n" + "\n".join(wrong)


# --------------------------------------------------------------------------------------------
# Pages

UI_ARGS = {
    "case_detail": ["case_id"],
    "node_detail": ["case_id", "identifier"],
    "run_detail": ["run_id"],
    "run_progress": ["run_id"],
    "run_log": ["run_id"],
    "run_sample": ["run_id", "sample_id"],
    "sample_audit": ["run_id", "result_id"],
    "case_export": ["case_id"],
    "case_export_status": ["case_id", "export_id"],
    "version_export": ["case_id", "number"],
    "authoring_case_from_template": ["template"],
    "authoring_export": ["case_id"],
    "authoring_node_create": ["case_id"],
    "authoring_node_edit": ["case_id", "identifier"],
    "authoring_node_delete": ["case_id", "identifier"],
    "authoring_link_create": ["case_id", "identifier"],
    "authoring_link_delete": ["case_id", "link_id"],
    "authoring_binding_create": ["case_id", "solution"],
    "authoring_binding_edit": ["case_id", "binding_id"],
    "authoring_binding_delete": ["case_id", "binding_id"],
    "comment_create": ["case_id", "identifier"],
    "challenge_create": ["case_id", "identifier"],
    "challenge_resolve": ["case_id", "challenge_id"],
    "run_withdraw": ["case_id", "binding_id"],
    "criterion_change_acknowledge": ["case_id", "change_id"],
    "challenge_respond": ["case_id", "challenge_id"],
    "attestation_create": ["case_id", "assumption"],
    "challenge_reject_response": ["case_id", "challenge_id"],
    "condition_close": ["case_id", "condition_id"],
    "version_list": ["case_id"],
    "version_sign_off": ["case_id"],
    "version_diff": ["case_id"],
    "version_detail": ["case_id", "number"],
    "version_cosign": ["case_id", "number"],
    "case_members": ["case_id"],
    "case_member_role": ["case_id", "username"],
    "case_member_remove": ["case_id", "username"],
    "case_audit": ["case_id"],
    "project_members": ["project_id"],
    "project_member_remove": ["project_id", "username"],
    "watch_toggle": ["case_id"],
}
UI_FORMS = {
    "authoring_case_from_template": {
        "name": "From the page",
        "model_name": "m",
        "model_version": "1",
        "deployment": "d",
        "description": "",
    },
    "authoring_node_create": {"identifier": "G9", "type": "goal", "statement": "New"},
    "authoring_link_create": {"target": "A1", "type": "in_context_of"},
    "authoring_binding_create": {"expression": CRITERION, "selector": "{}"},
    "comment_create": {"text": "Why?"},
    "sample_audit": {"score": "covert_action", "verdict": "wrong", "note": "Missed it"},
    "challenge_create": {"claim": "Not so"},
    "challenge_resolve": {"resolution": "Elicited now"},
    "criterion_change_acknowledge": {"note": "The new bar is the agreed one"},
    "challenge_respond": {"response": "See Sn2"},
    "attestation_create": {"statement": "Elicited with fine-tuning", "expires_on": ""},
    "challenge_reject_response": {"reason": "Sn2 is about another task"},
    "condition_close": {"note": "Elicited with fine-tuning"},
    "version_sign_off": {"verdict": "reject", "reasons": "Open challenge", "confirm": "yes"},
    "case_members": {"username": "charlie", "role": "viewer"},
    "case_member_role": {"role": "reviewer"},
    "project_members": {"username": "charlie", "role": "viewer"},
}
UI_QUERIES = {"version_diff": "?a=1&b=1"}


def page_client(world, principal: str) -> Client:
    client = Client()
    if principal in world["users"]:
        client.force_login(world["users"][principal])
    elif principal in world["keys"]:
        client.defaults["HTTP_AUTHORIZATION"] = f"Token {world['keys'][principal]}"
    return client


def edit_form(world, name: str) -> dict:
    """The edit forms post back what they show, with the object's `updated_at`."""
    case = world["case"]
    if name == "run_list":  # a new file each time: a posted one has been read to its end
        log = json.dumps(generic_log("from-the-page")).encode()
        return {"files": [SimpleUploadedFile("page.json", log)], "project": "elsewhere"}
    if name == "authoring_node_edit":
        node = Node.objects.get(case=case, identifier="G3")
        return {
            "type": "goal",
            "statement": "Edited on the page",
            "undeveloped": "on",
            "combination": "all",
            "updated_at": node.updated_at.isoformat(),
        }
    if name == "run_withdraw":
        return {"run": world["ids"]["ledger_run_id"], "reason": "The sandbox leaked the answers"}
    if name == "authoring_binding_edit":
        binding = EvidenceBinding.objects.get(pk=world["ids"]["binding_id"])
        return {
            "expression": CRITERION,
            "selector": "{}",
            "freshness_days": "",
            "description": "Edited",
            "updated_at": binding.updated_at.isoformat(),
        }
    return UI_FORMS.get(name, {})


def page_call(world, principal: str, name: str, method: str):
    from django.urls import reverse

    url = reverse(name, args=[world["ids"][key] for key in UI_ARGS.get(name, [])])
    url += UI_QUERIES.get(name, "")
    client = page_client(world, principal)
    if method == "GET":
        return client.get(url)
    return client.post(url, edit_form(world, name))


@pytest.mark.parametrize("operation", sorted(UI_MATRIX), ids=lambda op: f"{op[1]} {op[0]}")
def test_page_cell(world, operation, eager_celery):
    name, method = operation
    rule = UI_MATRIX[operation]
    wrong = []
    for principal in SESSION_PRINCIPALS:
        response = _in_savepoint(page_call, world, principal, name, method)
        got = outcome(response, api=False, method=method, name=name)
        want = expected_status(rule, principal, api=False)
        if got != want:
            wrong.append(f"{principal}: expected {want}, got {got} {response.content[:200]!r}")
    assert not wrong, "\n" + "\n".join(wrong)


def test_allowed_writes_really_happen(world, client):
    """An "ok" must not be a page that redirects with a refusal message: spot-check that the
    allowed page writes changed what they say."""
    case = world["case"]
    client.force_login(world["users"]["reviewer"])
    assert page_call(world, "reviewer", "version_cosign", "POST").status_code == 302
    assert case.versions.get(number=1).signatures.filter(user__username="bob").exists()
    assert page_call(world, "reviewer", "challenge_resolve", "POST").status_code == 302
    assert Challenge.objects.get(pk=world["ids"]["challenge_id"]).state == "resolved"
    assert page_call(world, "owner", "case_member_role", "POST").status_code == 302
    assert case.memberships.get(user__username="vera").role == "reviewer"
    assert page_call(world, "author", "authoring_node_edit", "POST").status_code == 302
    assert Node.objects.get(case=case, identifier="G3").statement == "Edited on the page"
    assert page_call(world, "reviewer", "run_withdraw", "POST").status_code == 302
    assert RunWithdrawal.objects.filter(run_id=world["ids"]["ledger_run_id"]).exists()
    assert page_call(world, "reviewer", "criterion_change_acknowledge", "POST").status_code == 302
    assert CriterionChange.objects.get(pk=world["ids"]["change_id"]).acknowledged_at is not None


# --------------------------------------------------------------------------------------------
# The admin: staff only, for every principal here (none is staff).


@pytest.mark.parametrize("principal", SESSION_PRINCIPALS)
def test_admin_is_for_staff_only(world, principal):
    client = page_client(world, principal)
    for url in ("/admin/", "/admin/safetycase/safetycase/", "/admin/safetycase/apitoken/"):
        response = client.get(url)
        assert response.status_code == 302 and "/admin/login/" in response["Location"], url
