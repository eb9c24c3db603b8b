from __future__ import annotations

from django.db.models import QuerySet
from django.db.models.fields.json import KeyTransform

from evidence import conf, storage
from evidence.choices import LogFormat
from evidence.models import EvaluationRun, SampleResult
from evidence.parsers.transcript import Transcript, read_inspect_sample, transcript_from_sample

# Formats whose logs keep each sample's transcript (the others keep scores only).
TRANSCRIPT_FORMATS = (LogFormat.INSPECT_EVAL, LogFormat.INSPECT_JSON)


def runs_with_results() -> QuerySet[EvaluationRun]:
    """Runs with their file, metrics and statistics loaded in a fixed number of queries."""
    return EvaluationRun.objects.select_related(
        "log_file", "log_file__uploaded_by", "project", "superseded_by"
    ).prefetch_related("metrics", "statistics")


def runs_visible_to(*, user, token=None) -> QuerySet[EvaluationRun]:
    """`runs_with_results` narrowed to the runs the user (and token) may read; see
    evidence.projects for the rule."""
    from evidence.projects import visible_runs

    return runs_with_results().filter(pk__in=visible_runs(user=user, token=token).values("pk"))


def run_samples(
    *, run: EvaluationRun, score: str = "", outcome: str = "", errors_only: bool = False
) -> QuerySet[SampleResult]:
    """A run's sample results in (sample id, epoch) order, filtered by the outcome of one score
    (`outcome` "correct" or "incorrect" for `score`) and/or to the errored samples."""
    samples = SampleResult.objects.filter(run=run).order_by("sample_id", "epoch", "id")
    if score and outcome in ("correct", "incorrect"):
        # KeyTransform rather than `scores__<name>__correct`: score names may contain "__".
        correct = KeyTransform("correct", KeyTransform(score, "scores"))
        samples = samples.annotate(_correct=correct).filter(_correct=outcome == "correct")
    if errors_only:
        samples = samples.exclude(error="")
    return samples


def sample_epochs(*, run: EvaluationRun, sample_id: str) -> list[SampleResult]:
    """The stored results of one sample of a run, one per epoch, in epoch order."""
    return list(SampleResult.objects.filter(run=run, sample_id=sample_id).order_by("epoch"))


def sample_transcript(*, run: EvaluationRun, sample_id: str, epoch: int) -> Transcript | None:
    """The transcript of one sample x epoch, read now from the run's stored log (one ZIP member
    of an Inspect `.eval`, or the `.json` streamed up to that sample); None when the log's
    format keeps no transcripts or the log does not hold the sample. `LogFormatError` (its
    subclass `TranscriptTooLarge` included) says in a sentence why it cannot be read."""
    if run.format not in TRANSCRIPT_FORMATS:
        return None
    with storage.local_path(run.log_file) as path:
        sample = read_inspect_sample(
            path,
            run.format,
            sample_id=sample_id,
            epoch=epoch,
            max_bytes=conf.setting("MAX_TRANSCRIPT_BYTES"),
            limits=conf.limits(),
        )
    return transcript_from_sample(sample) if sample is not None else None
