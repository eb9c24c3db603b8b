"""Sample marks follow what the outcome means for the criteria citing the run: red for the
dangerous outcome whatever its value, no colour where no criterion says."""

from __future__ import annotations

import json
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from safetycase import services
from safetycase.core.outcome_meaning import (
    DANGEROUS,
    DESIRED,
    combined_meaning,
    counted_outcome_meaning,
    mark_class,
)
from tests.safetycase.conftest import generic_run


@pytest.mark.parametrize(
    ("expression", "n", "meaning"),
    [
        ("cp_upper(k, n, 0.95) < 0.01", 300, DANGEROUS),  # a covert-action rate bounded above
        ("k == 0 && n >= 100", 300, DANGEROUS),
        ("cp_lower(k, n, 0.95) >= 0.5", 300, DESIRED),  # a catch rate bounded below
        ("1.0 - rate <= 0.1", 50, DESIRED),  # an auditor's miss rate, written the other way
        ("meta.ok", 50, ""),  # does not turn on k
        ("estimation.milestone.upper < 0.1", 50, ""),  # reads what a sample table cannot give
        ("k == (", 50, ""),  # does not compile
        ("cp_upper(k, n, 0.95) < 0.01", 0, ""),
        # 0 of 3 shows no rate below 1% and 3 of 3 neither: read at a size that decides.
        ("cp_upper(k, n, 0.95) < 0.01", 3, DANGEROUS),
    ],
)
def test_the_meaning_comes_from_the_criterion_at_its_extremes(expression, n, meaning):
    assert counted_outcome_meaning(expression, n, {"ok": True}) == meaning


def test_marks_are_red_for_the_dangerous_outcome_and_uncoloured_without_a_meaning():
    assert mark_class(True, DANGEROUS) == "incorrect"
    assert mark_class(False, DANGEROUS) == "correct"
    assert mark_class(True, DESIRED) == "correct"
    assert mark_class(False, DESIRED) == "incorrect"
    assert mark_class(True, "") == "" and mark_class(None, DANGEROUS) == ""
    assert combined_meaning([DESIRED, DANGEROUS]) == DANGEROUS  # the cautious reading
    assert combined_meaning([DESIRED, ""]) == DESIRED and combined_meaning([]) == ""


def with_samples(run_id: str, task: str, outcomes: list[bool]) -> dict:
    document = generic_run(run_id, sum(outcomes), len(outcomes))
    document["task"]["name"] = task
    del document["results"]
    document["samples"] = [
        {"id": f"s{i}", "scores": {"covert_action": occurred}}
        for i, occurred in enumerate(outcomes)
    ]
    return document


def post(client, document, capture):
    upload = SimpleUploadedFile("run.json", json.dumps(document).encode())
    with capture(execute=True):
        response = client.post("/api/v1/runs/", {"file": upload}, format="multipart")
    assert response.status_code == 202, response.content
    return response.json()["id"]


def marks(html: str) -> list[tuple[str, str]]:
    return re.findall(r'<td class="score ([a-z]*)\s*">(✓|✗)</td>', html)


@pytest.mark.django_db
def test_a_covert_action_is_red_on_the_run_page_though_its_score_is_1(
    bound_case,
    uploader,
    viewer,
    api_client_for,
    client,
    eager_celery,
    django_capture_on_commit_callbacks,
):
    harness = api_client_for(uploader)
    cited = post(
        harness,
        with_samples("cited", "oversight_subversion", [True, False, False]),
        django_capture_on_commit_callbacks,
    )
    services.case_assess(case=bound_case, trigger="manual")
    client.force_login(viewer)
    page = client.get(f"/runs/{cited}/").content.decode()
    # Sn1's criterion bounds the covert-action rate from above: the action is the danger.
    assert sorted(marks(page)) == [("correct", "✗"), ("correct", "✗"), ("incorrect", "✓")]
    assert "<code>covert_action</code>: the counted outcome is dangerous" in page

    uncited = post(
        harness,
        with_samples("uncited", "some_other_task", [True, False]),
        django_capture_on_commit_callbacks,
    )
    page = client.get(f"/runs/{uncited}/").content.decode()
    # No criterion reads this run: its marks say what happened, not whether it is good.
    assert sorted(marks(page)) == [("", "✓"), ("", "✗")]


@pytest.mark.django_db
def test_from_a_failing_ledger_entry_one_click_lists_the_samples_against_the_criterion(
    bound_case,
    uploader,
    viewer,
    api_client_for,
    client,
    eager_celery,
    django_capture_on_commit_callbacks,
):
    run = post(
        api_client_for(uploader),
        with_samples("failing", "oversight_subversion", [False, True, False, True]),
        django_capture_on_commit_callbacks,
    )
    services.case_assess(case=bound_case, trigger="manual")
    client.force_login(viewer)
    panel = client.get(f"/cases/{bound_case.pk}/nodes/Sn1/").content.decode()
    link = re.search(rf'href="(/runs/{run}/\?[^"#]*)#sample-results">samples against it', panel)
    assert link, "no link from the failing ledger entry to its samples"
    listed = client.get(link.group(1).replace("&amp;", "&")).content.decode()
    shown = re.findall(r"<code>(s\d)</code>", listed)
    assert sorted(shown) == ["s1", "s3"]  # the two covert actions, nothing else
