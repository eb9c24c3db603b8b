"""PDF export benchmark: a generated 500-node case with 200 evaluation runs.

    .venv/bin/python bench/pdf.py [--nodes 500] [--runs 200] [--repeat 2] [--out /tmp/bench.pdf]
                                  [--scripts]

Uses DATABASE_URL (a scratch SQLite file when unset). Builds a case shaped like the scheming
template (a root goal over four arguments SI, HI, HC, AL, each a tree of goals, strategies,
solutions, context and assumptions), binds its solutions to 100 tasks with two runs each, assesses
it once, then times `services.case_export_pdf` (data, diagrams, Typst) `--repeat` times
with a statement changed in between (Typst memoises identical input). Goal: < 10 s. `--scripts`
adds Japanese, Chinese, Korean, Arabic and emoji text to every tenth goal, to time the fonts
those need (SAFETYCASE_PDF_FONT_PATHS; the fonts in use are printed).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ARGUMENTS = [
    ("SI", "lacks the capabilities it would need to scheme"),
    ("HI", "could not cause the unacceptable outcomes even if it tried"),
    ("HC", "is prevented from causing harm by the control protocol"),
    ("AL", "does not choose to scheme when it could"),
]
CLAIMS = [
    "shows no covert action in the evaluation suite",
    "cannot disable oversight without detection",
    "does not sandbag on dangerous capability evaluations",
    "fails the self-exfiltration proxy tasks at expert difficulty",
    "is caught by the monitor on seeded attacks",
    "stays below the human baseline on stealth challenges",
    "does not notice when it is being evaluated",
]


def setup_django() -> None:
    if not os.environ.get("DATABASE_URL"):
        os.environ["SAFETYCASE_VAR_DIR"] = tempfile.mkdtemp(prefix="bench-pdf-")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "safetycase.settings_test")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def generate(n_nodes: int) -> tuple[list[tuple], list[tuple]]:
    """(nodes [(identifier, type, statement)], links [(source, target, type)])."""
    nodes = [
        ("G0", "goal", "Deploying Example-7 internally leads to no unacceptable outcome."),
        ("C0", "context", "Internal research-agent deployment with job access to the cluster."),
        ("S0", "strategy", "Argue over the risk factors: ability, harm and propensity."),
    ]
    links = [("G0", "C0", "in_context_of"), ("G0", "S0", "supported_by")]
    assumptions = [f"A{i:02d}" for i in range(1, 21)]
    for a in assumptions:
        nodes.append((a, "assumption", f"Catalogue assumption {a} holds for this deployment."))
    per_argument = max(20, (n_nodes - len(nodes)) // len(ARGUMENTS))
    solution = 0
    for prefix, claim in ARGUMENTS:
        start = len(nodes)
        top = f"{prefix}-G0"
        nodes += [
            (top, "goal", f"Example-7 {claim}."),
            (f"{prefix}-S1", "strategy", f"Argue over each way in which Example-7 {claim}."),
            (f"{prefix}-C1", "context", f"Scope of the {prefix} argument: the whole deployment."),
        ]
        links += [
            ("S0", top, "supported_by"),
            (top, f"{prefix}-S1", "supported_by"),
            (top, f"{prefix}-C1", "in_context_of"),
        ]
        g = 0
        while len(nodes) - start < per_argument - 3:
            g += 1
            goal, strategy = f"{prefix}-G{g}", f"{prefix}-S1.{g}"
            nodes += [
                (goal, "goal", f"Example-7 {CLAIMS[g % len(CLAIMS)]} (part {g})."),
                (strategy, "strategy", f"Argue over the evaluations of part {g} in turn."),
            ]
            links += [
                (f"{prefix}-S1", goal, "supported_by"),
                (goal, strategy, "supported_by"),
                (goal, assumptions[(g + len(prefix)) % len(assumptions)], "in_context_of"),
            ]
            for k in range(1, 4):
                sub, sn = f"{prefix}-G{g}.{k}", f"{prefix}-Sn{g}.{k}"
                solution += 1
                nodes += [
                    (sub, "goal", f"The {CLAIMS[(g + k) % len(CLAIMS)]} result holds ({g}.{k})."),
                    (sn, "solution", f"Results of task_{solution % 100} on Example-7."),
                ]
                links += [(strategy, sub, "supported_by"), (sub, sn, "supported_by")]
    return nodes[:n_nodes] if len(nodes) > n_nodes else nodes, links


# --scripts: what every tenth goal says besides its English statement, so the export has to
# find and embed the CJK, Arabic and emoji fonts (SAFETYCASE_PDF_FONT_PATHS).
OTHER_SCRIPTS = " — 安全性の主張 · 安全论证 · 안전성 논증 · تقييم السلامة 🚨"


def store(n_nodes: int, n_runs: int, *, scripts: bool = False):
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from evidence.models import EvaluationRun, LogFile, Project, RunStatistic
    from safetycase.models import EvidenceBinding, Link, Membership, Node, SafetyCase

    user, _ = get_user_model().objects.get_or_create(username="bench-author")
    project, _ = Project.objects.get_or_create(name="bench")
    SafetyCase.objects.filter(name="bench-pdf").delete()
    case = SafetyCase.objects.create(
        project=project,
        name="bench-pdf",
        model_name="Example-7",
        model_version="2026-11",
        deployment="internal research agent",
        description="Generated for bench/pdf.py.",
    )
    Membership.objects.create(case=case, user=user, role="author")
    nodes, links = generate(n_nodes)
    if scripts:
        nodes = [
            (i, t, st + OTHER_SCRIPTS if t == "goal" and number % 10 == 0 else st)
            for number, (i, t, st) in enumerate(nodes)
        ]
    Node.objects.bulk_create(
        Node(case=case, identifier=i, type=t, statement=s) for i, t, s in nodes
    )
    by_id = {n.identifier: n for n in Node.objects.filter(case=case)}
    Link.objects.bulk_create(
        Link(case=case, source=by_id[s], target=by_id[t], type=kind)
        for s, t, kind in links
        if s in by_id and t in by_id
    )
    bindings = []
    for identifier, node in by_id.items():
        if node.type == "solution":
            task = node.statement.split()[2]
            bindings.append(
                EvidenceBinding(
                    case=case,
                    node=node,
                    kind="criterion",
                    selector={"task": task, "scorer": "covert_action"},
                    freshness_days=90,
                    expression="cp_upper(k, n, 0.95) < 0.05",
                )
            )
        elif node.type == "assumption" and identifier[-1] in "02468":
            bindings.append(
                EvidenceBinding(case=case, node=node, kind="check", expression="n >= 100")
            )
    EvidenceBinding.objects.bulk_create(bindings)
    now = timezone.now()
    runs = []
    for i in range(n_runs):
        digest = hashlib.sha256(f"bench-pdf-run-{i}".encode()).hexdigest()
        log = LogFile.objects.create(
            project=project,
            sha256=digest,
            name=f"run-{i}.json",
            size=1000 + i,
            file=f"logs/{digest}.json",
            uploaded_by=user,
        )
        runs.append(
            EvaluationRun(
                project=project,
                log_file=log,
                status="ingested",
                log_status="success",
                harness="custom",
                harness_version="1.0",
                task=f"task_{i % 100}",
                task_version="1",
                model="Example-7",
                model_version="2026-11",
                completed_at=now - timedelta(days=1 + i // 100 * 30 + i % 7),
                ingested_at=now,
                sample_count=0,
            )
        )
    EvaluationRun.objects.bulk_create(runs)
    rows = list(EvaluationRun.objects.filter(log_file__name__startswith="run-").order_by("id"))
    RunStatistic.objects.bulk_create(
        RunStatistic(
            run=row,
            name="covert_action",
            k=(j % 9 == 0) * 3,
            n=300,
            rate=((j % 9 == 0) * 3) / 300,
        )
        for j, row in enumerate(rows)
    )
    return case


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nodes", type=int, default=500)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--out", default="")
    parser.add_argument(
        "--scripts",
        action="store_true",
        help="Add Japanese, Chinese, Korean, Arabic and emoji text to every tenth goal.",
    )
    args = parser.parse_args()
    setup_django()
    from django.conf import settings

    from safetycase import services
    from safetycase.models import Node
    from safetycase.services import case_export_pdf

    case = store(args.nodes, args.runs, scripts=args.scripts)
    assessment = services.case_assess(case=case, trigger="manual", detail="bench")
    print(
        f"case: {case.nodes.count()} nodes, {case.links.count()} links, "
        f"{case.bindings.count()} bindings, {args.runs} runs; overall {assessment.overall_status}"
    )
    font_paths = settings.SAFETYCASE.get("PDF_FONT_PATHS") or []
    print(f"fonts: bundled + {', '.join(font_paths) or 'nothing else'}")
    timings = []
    result = None
    for attempt in range(args.repeat):
        if attempt:  # new content, so Typst cannot reuse its memoised output
            node = Node.objects.get(case=case, identifier="G0")
            node.statement += f" (revision {attempt})"
            node.save()
        stages: list[tuple[str, float]] = []
        start = time.perf_counter()

        def progress(_percent: int, stage: str, stages=stages) -> None:
            stages.append((stage, time.perf_counter()))

        result = case_export_pdf(case=case, progress=progress)
        total = time.perf_counter() - start
        timings.append(total)
        marks = [(s, t - start) for s, t in stages]
        split = ", ".join(
            f"{name} {marks[i + 1][1] - at:.2f} s" for i, (name, at) in enumerate(marks[:-1])
        )
        print(f"export {attempt + 1}: {total:.2f} s ({split})")
    assert result is not None
    print(
        f"median {statistics.median(timings):.2f} s; {result.pages} pages, {result.diagrams} "
        f"diagrams, {len(result.content) / 1e6:.1f} MB (goal < 10 s)"
    )
    if args.out:
        Path(args.out).write_bytes(result.content)
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
