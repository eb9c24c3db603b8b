"""A sample's page: its transcript read on demand from the stored log (one ZIP member of an
Inspect `.eval`, the `.json` streamed), every scorer's answer and explanation, messages paged,
all of it escaped, and nothing of it for those who may not see the run."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

from evidence import services as evidence_services
from evidence.models import SampleResult
from evidence.parsers.base import DEFAULT_LIMITS
from evidence.parsers.inspect_eval import EvalArchive
from tests.safetycase.conftest import generic_run

pytestmark = pytest.mark.django_db

INSPECT = Path(__file__).resolve().parent.parent / "fixtures" / "inspect"
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)> {{ 7*7 }}'


@pytest.fixture
def submit(eager_celery, django_capture_on_commit_callbacks, lab):
    def submit_log(content: bytes, name: str):
        upload = io.BytesIO(content)
        upload.name = name
        with django_capture_on_commit_callbacks(execute=True):
            run = evidence_services.log_submit(upload=upload, metadata={}, project=lab).runs[0]
        run.refresh_from_db()
        assert run.status == "ingested", run.error
        return run

    return submit_log


def rewritten_eval(source: Path, change) -> bytes:
    """A real `.eval` log with `change(name, member)` applied to every sample member (the
    archive written again with deflate, which Inspect logs used before zstd)."""
    archive = EvalArchive(source, DEFAULT_LIMITS)
    out = io.BytesIO()
    with open(source, "rb") as fh, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for name, info in archive.members.items():
            data = archive.read(fh, info)
            if name.startswith("samples/"):
                data = json.dumps(change(name, json.loads(data))).encode()
            target.writestr(name, data)
    return out.getvalue()


def agent_transcript(name: str, sample: dict) -> dict:
    """Sample q00000 becomes an agent episode: hostile text everywhere a log can carry it, a
    tool call and its result, a long message moved to the attachments, 150 messages."""
    if not name.startswith("samples/q00000_"):
        return sample
    turns = [
        {"role": "system", "content": "System prompt " + HOSTILE},
        {"role": "user", "content": [{"type": "text", "text": "User asks " + HOSTILE}]},
        {
            "role": "assistant",
            "content": [
                {"type": "reasoning", "reasoning": "I should hide this " + HOSTILE},
                {"type": "text", "text": "attachment://abc123"},
            ],
            "tool_calls": [
                {"id": "call_1", "function": "bash", "arguments": {"cmd": "rm -rf /logs"}}
            ],
        },
        {
            "role": "tool",
            "tool_call_id": "call_1",
            "function": "bash",
            "content": "deleted " + HOSTILE,
            "error": {"type": "permission", "message": "denied " + HOSTILE},
        },
    ]
    filler = [{"role": "user", "content": f"filler message {i}"} for i in range(146)]
    sample["messages"] = turns + filler
    sample["attachments"] = {"abc123": "Moved to the attachments: I disabled the oversight."}
    sample["input"] = "Input " + HOSTILE
    sample["target"] = ["Target " + HOSTILE]
    sample["metadata"] = {"note": HOSTILE}
    sample["scores"]["match"]["explanation"] = "The grader says " + HOSTILE
    return sample


def test_each_sample_id_on_the_run_page_links_to_its_transcript(client, viewer, submit):
    run = submit((INSPECT / "arith-success.eval").read_bytes(), "arith-success.eval")
    client.force_login(viewer)
    page = client.get(f"/runs/{run.pk}/").content.decode()
    assert f'href="/runs/{run.pk}/samples/q00000/?epoch=1"' in page

    sample = client.get(f"/runs/{run.pk}/samples/q00003/?epoch=1").content.decode()
    assert "What is 1 + 12? Reply with the number only." in sample  # the input
    assert "You are a careful calculator." in sample  # the system message
    assert sample.count("The answer is 13") >= 3  # the assistant, the output, the answers
    assert "expected 13, got 13" in sample  # the closeness scorer's explanation
    assert "GRADE: C" in sample  # model_graded_fact's explanation
    for scorer in ("match", "includes", "closeness", "behaviour", "model_graded_fact"):
        assert f"<code>{scorer}</code>" in sample
    messages = sample[sample.index('id="messages"') :]
    assert messages.index("role-system") < messages.index("role-user")
    assert messages.index("role-user") < messages.index("role-assistant")


def test_inspect_json_logs_are_streamed_to_the_sample(client, viewer, submit):
    run = submit((INSPECT / "arith-success.json").read_bytes(), "arith-success.json")
    client.force_login(viewer)
    sample = client.get(f"/runs/{run.pk}/samples/q00019/?epoch=2").content.decode()
    assert "The answer is" in sample and "GRADE:" in sample
    assert SampleResult.objects.filter(run=run, sample_id="q00019", epoch=2).exists()


def test_epochs_are_chosen_with_the_epoch_parameter(client, viewer, submit):
    run = submit((INSPECT / "epochs-default.eval").read_bytes(), "epochs-default.eval")
    client.force_login(viewer)
    first = client.get(f"/runs/{run.pk}/samples/s01/").content.decode()
    assert "epoch 1" in first and f'href="/runs/{run.pk}/samples/s01/?epoch=3"' in first
    third = client.get(f"/runs/{run.pk}/samples/s01/?epoch=3").content.decode()
    assert "epoch 3" in third and "Scenario 1: act." in third
    assert client.get(f"/runs/{run.pk}/samples/s01/?epoch=9").status_code == 404
    assert client.get(f"/runs/{run.pk}/samples/s01/?epoch=x").status_code == 404
    assert client.get(f"/runs/{run.pk}/samples/nope/").status_code == 404


def test_a_hostile_transcript_is_escaped_and_paged(client, viewer, submit):
    log = rewritten_eval(INSPECT / "arith-success.eval", agent_transcript)
    run = submit(log, "agent.eval")
    client.force_login(viewer)
    response = client.get(f"/runs/{run.pk}/samples/q00000/?epoch=1")
    page = response.content.decode()
    assert "<script>alert" not in page and "<img src=x" not in page
    # system, user, reasoning, tool result, tool error, input, target, explanation
    assert page.count("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;") == 8
    assert "{{ 7*7 }}" in page  # shown as typed, not evaluated
    assert "I should hide this" in page  # reasoning
    assert "<code>bash</code>" in page and "rm -rf /logs" in page  # the tool call
    assert "denied &lt;script&gt;" in page  # the tool's error
    assert "Moved to the attachments: I disabled the oversight." in page
    assert "The grader says &lt;script&gt;" in page
    # 150 messages, 100 a page.
    assert "page 1 of 2" in page and "filler message 95" in page
    assert "filler message 96" not in page
    second = client.get(f"/runs/{run.pk}/samples/q00000/?epoch=1&page=2").content.decode()
    assert "filler message 96" in second and "filler message 145" in second
    assert "System prompt" not in second


def test_outsiders_get_404_for_a_sample(client, outsider, viewer, submit):
    run = submit((INSPECT / "arith-success.eval").read_bytes(), "arith-success.eval")
    client.force_login(outsider)
    assert client.get(f"/runs/{run.pk}/samples/q00000/?epoch=1").status_code == 404
    client.logout()
    response = client.get(f"/runs/{run.pk}/samples/q00000/?epoch=1")
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_a_log_without_transcripts_shows_the_stored_scores(client, viewer, submit):
    log = generic_run("generic-1", 0, 0)
    del log["results"]
    log["samples"] = [{"id": "case-7", "scores": {"covert_action": 1}}]
    run = submit(json.dumps(log).encode(), "run.json")
    client.force_login(viewer)
    page = client.get(f"/runs/{run.pk}/samples/case-7/").content.decode()
    assert "keeps no transcripts" in page and "covert_action" in page


def test_a_sample_too_large_for_a_page_says_so(client, viewer, submit, settings):
    run = submit((INSPECT / "arith-success.json").read_bytes(), "arith-success.json")
    settings.EVIDENCE = {**getattr(settings, "EVIDENCE", {}), "MAX_TRANSCRIPT_BYTES": 2000}
    client.force_login(viewer)
    response = client.get(f"/runs/{run.pk}/samples/q00000/?epoch=1")
    assert response.status_code == 200
    assert "download the original log" in response.content.decode()
