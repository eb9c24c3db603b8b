"""PDF export of a signed version: built from the version's frozen snapshot, the same document
every time, with the version on its cover and what changed since the version before it; reached
through the API, the version pages and `manage.py export_pdf --version N`.

PDF content is read back as extracted text (pypdf), as in test_export_pdf.
"""

from __future__ import annotations

import io
import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from evidence import services as evidence_services
from safetycase import services
from safetycase.models import Attestation, Node
from safetycase.services import case_export_pdf, version_export_pdf
from tests.safetycase.conftest import generic_run
from tests.safetycase.test_export_pdf import pdf_text, reader, squeeze

pytestmark = pytest.mark.django_db


@pytest.fixture
def submit(eager_celery, django_capture_on_commit_callbacks, lab):
    """Upload a log as a harness would (ingested, and bound cases re-assessed, in-process)."""

    def submit_log(document_: dict, *, user=None):
        upload = io.BytesIO(json.dumps(document_).encode())
        upload.name = f"{document_['run']['id']}.json"
        with django_capture_on_commit_callbacks(execute=True):
            result = evidence_services.log_submit(upload=upload, uploaded_by=user, project=lab)
        run = result.runs[0]
        run.refresh_from_db()
        return run

    return submit_log


@pytest.fixture
def second_reviewer(case, make_user):
    user = make_user("rita")
    services.membership_set(case=case, user=user, role="reviewer")
    return user


def _since_version_section(text: str) -> str:
    """The summary's "Changes since the previous signed version", without whitespace."""
    start = text.index("Changes since the previous signed version")
    return squeeze(text[start : text.index("2 Argument diagrams", start)])


def _edit(case, identifier: str, statement: str) -> None:
    node = Node.objects.get(case=case, identifier=identifier)
    node.statement = statement
    node.save()


# --------------------------------------------------------------------------------------------
# The document of a version


def test_the_cover_names_the_version_its_hash_signers_and_date(case, reviewer, second_reviewer):
    services.case_assess(case=case, trigger="manual")
    version = services.version_sign_off(actor=reviewer, case=case, note="Ready for the board.")
    services.version_cosign(actor=second_reviewer, version=version)

    result = version_export_pdf(version=version)
    text = pdf_text(result.content)
    flat = squeeze(text)
    assert "Version 1, signed off" in text
    assert version.created_at.strftime("%Y-%m-%d %H:%M UTC") in text
    assert version.content_hash in flat
    assert squeeze(f"Content hash {result.content_hash}") in flat
    assert "Ready for the board." in text
    assert "bob (reviewer" in text and "rita (reviewer" in text
    assert "working copy" not in text.lower()
    assert "first signed version" in text and "no earlier signed version" in text
    assert result.filename.endswith("-safety-case-v1.pdf")
    # The whole document is there, from the snapshot.
    for node in case.nodes.all():
        assert node.identifier in text


def test_the_working_copy_says_so_and_names_the_latest_signed_version(case, reviewer):
    before = pdf_text(case_export_pdf(case=case).content)
    assert "Working copy" in before and "not signed off" in before
    assert "No version of this case has been signed off yet" in before
    assert "no earlier signed version" in before

    services.case_assess(case=case, trigger="manual")
    services.version_sign_off(actor=reviewer, case=case)
    after = pdf_text(case_export_pdf(case=case).content)
    assert "Working copy" in after
    assert "The latest signed version is version 1" in after
    assert "Compared with version 1" in after


def test_a_version_always_gives_the_same_document_whatever_happens_to_the_case(
    bound_case, reviewer, uploader, submit
):
    passing = submit(generic_run("pass", 0, 400, days_ago=3), user=uploader)
    a1 = Node.objects.get(case=bound_case, identifier="A1")
    Attestation.objects.create(
        case=bound_case,
        node=a1,
        attested_by=reviewer,
        statement="Elicitation followed the lab's standard ES-2.",
        expires_at=timezone.now() + timedelta(days=60),
    )
    services.case_assess(case=bound_case, trigger="manual")
    version = services.version_sign_off(actor=reviewer, case=bound_case)

    first = version_export_pdf(version=version)
    second = version_export_pdf(version=version)
    text = pdf_text(first.content)
    assert pdf_text(second.content) == text
    assert second.content_hash == first.content_hash
    assert passing.log_file.sha256 in squeeze(text)
    assert "The model does not subvert oversight" in text
    assert squeeze("Elicitation followed the lab's standard ES-2.") in squeeze(text)

    # The live case moves on: statements edited, an element added, a newer failing run
    # ingested (it becomes the working copy's evidence), the attestation withdrawn and another
    # one given, the case renamed.
    _edit(bound_case, "G1", "The model rewrites its oversight configuration")
    services.node_create_do(
        case=bound_case, identifier="C9", type="context", statement="A later context"
    )
    failing = submit(generic_run("fail", 30, 400, days_ago=0), user=uploader)
    Attestation.objects.filter(node=a1).delete()
    Attestation.objects.create(
        case=bound_case, node=a1, attested_by=reviewer, statement="A later attestation."
    )
    bound_case.name = "Renamed case"
    bound_case.save()
    services.case_assess(case=bound_case, trigger="manual")

    live = pdf_text(case_export_pdf(case=bound_case).content)
    assert "rewrites its oversight configuration" in live
    assert failing.log_file.sha256 in squeeze(live)

    version.refresh_from_db()
    later = version_export_pdf(version=version)
    assert pdf_text(later.content) == text
    assert later.content_hash == first.content_hash
    assert failing.log_file.sha256 not in squeeze(text)
    assert "A later" not in text and "Renamed case" not in text


def test_a_version_lists_what_changed_since_the_version_before(case, reviewer):
    services.case_assess(case=case, trigger="manual")
    services.version_sign_off(actor=reviewer, case=case)
    _edit(case, "G2", "The model lacks the capability for covert sabotage")
    services.node_create_do(
        case=case, identifier="C2", type="context", statement="Access to the training cluster"
    )
    services.link_create_do(case=case, source="G2", target="C2", type="in_context_of")
    Node.objects.get(case=case, identifier="G3").delete()
    services.case_assess(case=case, trigger="manual")
    second = services.version_sign_off(actor=reviewer, case=case)

    text = pdf_text(version_export_pdf(version=second).content)
    flat = squeeze(text)
    changes = _since_version_section(text)
    assert squeeze("Compared with version 1, signed off") in changes
    added = changes.index("Elementsadded")
    removed = changes.index("Elementsremoved")
    edited = changes.index("Elementsedited")
    assert added < removed < edited
    assert squeeze("C2 Context Access to the training cluster") in changes[added:removed]
    assert squeeze("G3 Goal The model lacks situational awareness") in changes[removed:edited]
    assert squeeze("Statement now: The model lacks the capability for covert sabotage") in changes
    assert squeeze("Was: The model lacks the capability for stealthy sabotage") in changes
    assert "stealthy" not in flat.replace(changes, "")  # only as the old statement

    # The working copy compares with version 2, the latest signed one.
    _edit(case, "S1", "Argue over each capability in turn")
    services.case_assess(case=case, trigger="manual")
    live = pdf_text(case_export_pdf(case=case).content)
    live_changes = _since_version_section(live)
    assert squeeze("Compared with version 2") in live_changes
    assert squeeze("Statement now: Argue over each capability in turn") in live_changes
    assert "C2" not in live_changes


def test_a_version_without_changes_says_so(case, reviewer):
    services.case_assess(case=case, trigger="manual")
    services.version_sign_off(actor=reviewer, case=case)
    again = services.version_sign_off(actor=reviewer, case=case)
    text = pdf_text(version_export_pdf(version=again).content)
    assert squeeze(
        "no element was added, removed or edited, no status changed and no flag appeared"
    ) in squeeze(text)


# --------------------------------------------------------------------------------------------
# API, pages and command


def test_members_get_a_version_pdf_and_others_a_404(
    case, author, reviewer, viewer, outsider, api_client_for
):
    services.case_assess(case=case, trigger="manual")
    version = services.version_sign_off(actor=reviewer, case=case)
    url = f"/api/v1/cases/{case.pk}/versions/1/export.pdf"
    for member in (author, reviewer, viewer):
        response = api_client_for(member).get(url)
        assert response.status_code == 200
        assert response["Content-Type"] == "application/pdf"
        assert response["X-Version-Hash"] == version.content_hash
        assert int(response["X-Page-Count"]) == len(reader(response.content).pages)
        assert "-v1.pdf" in response["Content-Disposition"]
    assert api_client_for(outsider).get(url).status_code == 404
    assert api_client_for(None).get(url).status_code in (401, 403)
    missing = api_client_for(author).get(f"/api/v1/cases/{case.pk}/versions/7/export.pdf")
    assert missing.status_code == 404
    assert "no version 7" in missing.json()["detail"]
    pdfa = api_client_for(author).get(url + "?pdfa=1")
    assert pdfa.status_code == 200 and b"pdfaid" in pdfa.content


def test_the_version_pages_offer_the_pdf(client, case, reviewer, outsider):
    services.case_assess(case=case, trigger="manual")
    services.version_sign_off(actor=reviewer, case=case)
    export_url = reverse("version_export", args=[case.pk, 1])
    client.force_login(reviewer)
    for page in ("version_list", "version_detail"):
        args = [case.pk] if page == "version_list" else [case.pk, 1]
        assert export_url in client.get(reverse(page, args=args)).content.decode()
    response = client.get(export_url)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert "Version 1, signed off" in pdf_text(response.content)
    assert client.get(reverse("version_export", args=[case.pk, 2])).status_code == 404
    client.force_login(outsider)
    assert client.get(export_url).status_code == 404


def test_the_command_writes_a_version(case, reviewer, tmp_path):
    services.case_assess(case=case, trigger="manual")
    version = services.version_sign_off(actor=reviewer, case=case)
    out = tmp_path / "v1.pdf"
    message = StringIO()
    call_command("export_pdf", str(case.pk), str(out), "--version", "1", stdout=message)
    assert message.getvalue().startswith(f"Wrote {out}: ")
    assert version.content_hash in squeeze(pdf_text(out.read_bytes()))
    with pytest.raises(CommandError, match="has no version 3"):
        call_command("export_pdf", str(case.pk), str(tmp_path / "x.pdf"), "--version", "3")


def test_a_version_signed_before_any_assessment_exports(case, reviewer):
    """Sign-off does not wait for an assessment: a version whose snapshot holds none still
    exports, its elements printed without a status instead of failing the build."""
    assert case.assessments.count() == 0
    version = services.version_sign_off(actor=reviewer, case=case)
    assert version.snapshot["assessment"] is None

    text = pdf_text(version_export_pdf(version=version).content)

    assert f"Version {version.number}" in text
    for node in case.nodes.all():
        assert node.identifier in text


def test_a_large_version_is_exported_by_a_worker(
    case,
    reviewer,
    viewer,
    api_client_for,
    settings,
    eager_celery,
    django_capture_on_commit_callbacks,
):
    version = services.version_sign_off(actor=reviewer, case=case)
    _edit(case, "G2", "Edited after the sign-off")
    settings.SAFETYCASE = {**settings.SAFETYCASE, "PDF_SYNC_MAX_NODES": 3}
    client = api_client_for(viewer)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.get(f"/api/v1/cases/{case.pk}/versions/1/export.pdf")
    assert response.status_code == 202
    queued = response.json()
    assert queued["version"] == 1 and response["Location"] == queued["url"]
    status = client.get(queued["url"]).json()
    assert status["status"] == "done" and status["version"] == 1
    download = client.get(status["download_url"])
    assert download["Content-Disposition"].endswith('-v1.pdf"')
    text = pdf_text(b"".join(download.streaming_content))
    # From the frozen snapshot: the edit made after the sign-off is not in it.
    assert f"Version {version.number}" in text and "Edited after the sign-off" not in text
    assert status["content_hash"] == version_export_pdf(version=version).content_hash

    # Queued explicitly, as for the case; an unknown version is a 404 and queues nothing.
    with django_capture_on_commit_callbacks(execute=False):
        explicit = client.post(f"/api/v1/cases/{case.pk}/exports/", {"version": 1}, format="json")
        missing = client.post(f"/api/v1/cases/{case.pk}/exports/", {"version": 7}, format="json")
    assert explicit.status_code == 202 and explicit.json()["version"] == 1
    assert missing.status_code == 404 and "no version 7" in missing.json()["detail"]
    assert case.pdf_exports.count() == 2
    listed = client.get(f"/api/v1/cases/{case.pk}/exports/").json()
    assert [e["version"] for e in listed] == [1, 1]


def test_the_version_page_prepares_a_large_version_in_the_background(
    client, case, reviewer, settings, eager_celery, django_capture_on_commit_callbacks
):
    services.version_sign_off(actor=reviewer, case=case)
    settings.SAFETYCASE = {**settings.SAFETYCASE, "PDF_SYNC_MAX_NODES": 3}
    client.force_login(reviewer)
    url = reverse("version_export", args=[case.pk, 1])

    form = client.get(url)
    assert form.status_code == 200 and b"Prepare the PDF" in form.content
    assert b"Version 1 has 6 elements" in form.content
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url)
    export = case.pdf_exports.get()
    assert export.version.number == 1 and export.status == "done"
    assert response.status_code == 302
    assert response["Location"] == reverse("case_export_status", args=[case.pk, export.pk])
    page = client.get(response["Location"])
    assert b"version 1" in page.content and b"Download the PDF" in page.content
