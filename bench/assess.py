"""Assessment benchmark against the database: a 10,000-node case with 5,000 bound solutions.

    .venv/bin/python bench/assess.py [--nodes 10000] [--solutions 5000] [--repeat 3]

Uses DATABASE_URL (a scratch SQLite file when unset). Prints the median of `--repeat` runs of
  * floor       - loading the case's rows (nodes, links, bindings, runs with statistics and
                  metrics, attestations) from the database, nothing else;
  * full        - `services.case_assess` with a cold cache: load, assess, store with its diff;
  * incremental - the same after one new run of a bound task arrived, with the per-process
                  assessment cache warm (what a worker does when runs arrive one by one).
Goals: full <= 2 x floor; incremental <= full / 10.
The generated case is the one of bench/assess_pure.py (pure timings without the database).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]


def setup_django() -> None:
    if not os.environ.get("DATABASE_URL"):
        os.environ["SAFETYCASE_VAR_DIR"] = tempfile.mkdtemp(prefix="bench-assess-")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "safetycase.settings_test")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def store_case(n_nodes: int, n_solutions: int):
    """Write the generated case into the database (bulk, no history: this is set-up)."""
    from assess_pure import NOW, build
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from evidence.models import EvaluationRun, LogFile, Project, RunMetric, RunStatistic
    from safetycase.models import Attestation, EvidenceBinding, Link, Node, SafetyCase

    facts_case, nodes, relations, bindings, runs, attestations = build(n_nodes, n_solutions)
    shift = timezone.now() - NOW  # keep every run's age relative to the real now
    project, _ = Project.objects.get_or_create(name="bench-assess")
    SafetyCase.objects.filter(name="bench-assess").delete()
    case = SafetyCase.objects.create(
        project=project,
        name="bench-assess",
        model_name=facts_case.model_name,
        model_version=facts_case.model_version,
    )
    Node.objects.bulk_create(
        Node(
            case=case,
            identifier=n.identifier,
            type=n.type,
            statement=n.statement,
            undeveloped=n.undeveloped,
            combination=n.combination,
            catalogue_id=n.catalogue_id,
            attributes=dict(n.attributes),
        )
        for n in nodes
    )
    by_id = {n.identifier: n for n in Node.objects.filter(case=case)}
    Link.objects.bulk_create(
        Link(case=case, source=by_id[r.source], target=by_id[r.target], type=r.type)
        for r in relations
    )
    EvidenceBinding.objects.bulk_create(
        EvidenceBinding(
            case=case,
            node=by_id[b.node],
            kind=b.kind,
            selector=dict(b.selector),
            freshness_days=b.freshness_days,
            expression=b.expression,
        )
        for b in bindings
    )
    log_file, _ = LogFile.objects.get_or_create(
        project=project,
        sha256="0" * 64,
        defaults={"name": "bench.json", "size": 0, "file": "logs/bench.json"},
    )
    EvaluationRun.objects.filter(log_file=log_file).delete()
    run_rows = EvaluationRun.objects.bulk_create(
        EvaluationRun(
            project=project,
            log_file=log_file,
            status="ingested",
            log_status="success",
            task=r.task,
            model=r.model,
            model_version=r.model_version,
            completed_at=r.finished_at + shift,
            ingested_at=r.finished_at + shift,
            metadata=dict(r.metadata),
            sample_count=r.sample_count,
        )
        for r in runs
    )
    if any(row.pk is None for row in run_rows):
        run_rows = list(EvaluationRun.objects.filter(log_file=log_file).order_by("id"))
    RunStatistic.objects.bulk_create(
        RunStatistic(run=row, name=name, k=k, n=n)
        for row, r in zip(run_rows, runs, strict=True)
        for name, (k, n) in r.statistics.items()
    )
    RunMetric.objects.bulk_create(
        RunMetric(run=row, name=name, scorer=name, metric=metric, value=value)
        for row, r in zip(run_rows, runs, strict=True)
        for name, metrics in r.metrics.items()
        for metric, value in metrics.items()
    )
    reviewer, _ = get_user_model().objects.get_or_create(username="bench-reviewer")
    for a in attestations:
        Attestation.objects.create(
            case=case,
            node=by_id[a.node],
            attested_by=reviewer,
            statement="bench",
            expires_at=a.expires_at + shift,
        )
    return case, log_file


def load_rows(case) -> None:
    from evidence.models import EvaluationRun
    from safetycase.models import Attestation, EvidenceBinding, Link, Node

    list(Node.objects.filter(case=case))
    list(Link.objects.filter(case=case).select_related("source", "target"))
    bindings = list(EvidenceBinding.objects.filter(case=case).select_related("node"))
    tasks = {b.selector.get("task") for b in bindings} - {None}
    list(
        EvaluationRun.objects.filter(task__in=tasks, status="ingested").prefetch_related(
            "statistics", "metrics"
        )
    )
    list(Attestation.objects.filter(case=case))


def add_failing_run(log_file, number: int):
    from django.utils import timezone

    from evidence.models import EvaluationRun, RunStatistic

    run = EvaluationRun.objects.create(
        project_id=log_file.project_id,
        log_file=log_file,
        status="ingested",
        log_status="success",
        task="task_17",
        model="Example-7",
        model_version="2026-11",
        completed_at=timezone.now() - timedelta(minutes=number),
        ingested_at=timezone.now(),
        metadata={"elicitation": {"attempts_per_task": 12, "effort_hours": 30}},
        sample_count=400,
    )
    RunStatistic.objects.create(run=run, name="match", k=400, n=400)
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nodes", type=int, default=10_000)
    parser.add_argument("--solutions", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    setup_django()
    from django.db import connection

    from safetycase import services

    case, log_file = store_case(args.nodes, args.solutions)
    times: dict[str, list[float]] = {"floor": [], "full": [], "incremental": []}
    for i in range(args.repeat):
        start = time.perf_counter()
        load_rows(case)
        times["floor"].append(time.perf_counter() - start)

        services.forget_assessment_memos()
        start = time.perf_counter()
        full = services.case_assess(case=case, trigger="manual")
        times["full"].append(time.perf_counter() - start)

        add_failing_run(log_file, i)
        start = time.perf_counter()
        incremental = services.case_assess(case=case, trigger="run_ingested")
        times["incremental"].append(time.perf_counter() - start)
        assert incremental.statuses != full.statuses or i > 0  # the failing run defeats a node

    median = {key: statistics.median(values) for key, values in times.items()}
    print(
        f"case: {case.nodes.count()} nodes, {case.links.count()} links, "
        f"{case.bindings.count()} bindings; database: {connection.vendor}"
    )
    print("| measurement                          | seconds (median) |")
    print("|--------------------------------------|------------------|")
    for key, label in [
        ("floor", "floor: load the case's rows"),
        ("full", "full assessment (load+assess+store)"),
        ("incremental", "one new run, warm cache"),
    ]:
        print(f"| {label:<36} | {median[key]:16.3f} |")
    print(
        f"full / floor = {median['full'] / median['floor']:.2f} (goal <= 2); "
        f"incremental / full = {median['incremental'] / median['full']:.2f} (goal <= 0.1)"
    )


if __name__ == "__main__":
    main()
