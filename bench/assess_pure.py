"""Timing of the pure assessment (safetycase.core.assessment) on a generated large case.

    .venv/bin/python bench/assess_pure.py [--nodes 10000] [--solutions 5000] [--repeat 3]

The case: a top goal with five catalogue-style assumptions in its context (model version,
freshness, sample size — each checked on every evidence run of the case — one attested and one
checked on its own task), 50 strategies, goals under them, 5,000 solutions with one acceptance
criterion each (a mix of Clopper–Pearson bounds, point rates, binomial tests and metadata
checks), context nodes up to the requested size, and one ingested run per solution with
statistics and metadata. Prints the time of

* a full (cold) assessment,
* re-assessing after one new run arrives (same cache, same `now`),
* the same at a later `now` (an hour on), where expressions that use `age_days` are re-evaluated,
* the same with every input a fresh, equal copy (as when a worker reloads the rows),
* re-assessing with nothing changed.

No database and no Django: this measures the assessment alone.
"""

from __future__ import annotations

import argparse
import copy
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from safetycase.core.assessment import (  # noqa: E402
    AssessmentEngine,
    AttestationFacts,
    BindingFacts,
    CaseFacts,
    NodeFacts,
    RunFacts,
    assess,
)
from safetycase.core.gsn.model import Relation  # noqa: E402

MODEL, VERSION = "Example-7", "2026-11"
NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
CRITERIA = [
    "k == 0 && cp_upper(k, n, 0.95) <= 0.01",
    "rate <= 0.05",
    "binom_sf(k - 1, n, 0.25) >= 0.01",
    "cp_lower(k, n, 0.95) >= 0.5",
    "cp_upper(k, n, 0.95) < 0.2 && meta.elicitation.attempts_per_task >= 10",
]


def build(n_nodes: int, n_solutions: int, seed: int = 7):
    rng = random.Random(seed)
    nodes: list[NodeFacts] = []
    relations: list[Relation] = []
    bindings: list[BindingFacts] = []
    runs: list[RunFacts] = []

    def node(identifier, type_, statement="", **kw):
        nodes.append(NodeFacts(identifier, type_, statement or f"{type_} {identifier}", **kw))

    def link(source, target, kind="supported_by"):
        relations.append(Relation(source, target, kind))

    node("G0", "goal", "The deployment is safe.")
    assumptions = {
        "A04": "meta.model_version_hash == '2026-11' || has(meta.successor_justification)",
        "A05": "age_days <= 90.0",
        "A06": "n >= 300 && cp_upper(k, n, 0.95) <= 1.0",
    }
    for aid, check in assumptions.items():
        node(aid, "assumption", catalogue_id=aid)
        link("G0", aid, "in_context_of")
        bindings.append(BindingFacts(f"b-{aid}", aid, "check", {}, None, check))
    node("A07", "assumption", catalogue_id="A07", attributes={"requires_attestation": True})
    link("G0", "A07", "in_context_of")
    node("A10", "assumption", catalogue_id="A10")
    link("G0", "A10", "in_context_of")
    bindings.append(
        BindingFacts("b-A10", "A10", "check", {"task": "eval_awareness"}, 90, "meta.auroc <= 0.6")
    )
    runs.append(
        RunFacts(
            "aw-1",
            task="eval_awareness",
            model=MODEL,
            model_version=VERSION,
            finished_at=NOW - timedelta(days=10),
            metadata={"auroc": 0.55},
        )
    )
    attestations = [
        AttestationFacts(
            "att-1", "A07", "reviewer@example.org", expires_at=NOW + timedelta(days=100)
        )
    ]

    n_strategies = 50
    goals_per_strategy = max(1, n_solutions // (n_strategies * 5))
    goals = []
    for s in range(1, n_strategies + 1):
        sid = f"S{s}"
        node(sid, "strategy")
        link("G0", sid)
        for g in range(1, goals_per_strategy + 1):
            gid = f"G{s}.{g}"
            node(gid, "goal")
            link(sid, gid)
            goals.append(gid)
    for j in range(n_solutions):
        gid = goals[j % len(goals)]
        sn = f"Sn{j + 1}"
        node(sn, "solution")
        link(gid, sn)
        task = f"task_{j + 1}"
        criterion = CRITERIA[j % len(CRITERIA)]
        bindings.append(BindingFacts(j + 1, sn, "criterion", {"task": task}, 90, criterion))
        n = rng.choice([300, 320, 350, 400, 500])
        kind = j % len(CRITERIA)
        if kind in (0, 1):
            k = 0
        elif kind == 2:
            k = rng.randint(0, 30)
        elif kind == 3:
            k = rng.randint(int(0.7 * n), n)
        else:
            k = rng.randint(0, 20)
        if rng.random() < 0.01:  # a few failing runs
            k = n if kind != 3 else 0
        runs.append(
            RunFacts(
                j + 1,
                task=task,
                model=MODEL,
                model_version=VERSION,
                finished_at=NOW - timedelta(days=rng.randint(1, 60), minutes=j),
                metadata={"elicitation": {"attempts_per_task": 12, "effort_hours": 30}},
                statistics={"match": (k, n)},
                metrics={"match": {"accuracy": k / n}},
                sample_count=n,
            )
        )
    c = 0
    while len(nodes) < n_nodes:
        c += 1
        cid = f"C{c}"
        node(cid, "context")
        link(goals[c % len(goals)], cid, "in_context_of")
    case = CaseFacts(MODEL, VERSION)
    return case, nodes, relations, bindings, runs, attestations


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nodes", type=int, default=10_000)
    parser.add_argument("--solutions", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    case, nodes, relations, bindings, runs, attestations = build(args.nodes, args.solutions)
    print(
        f"case: {len(nodes)} nodes, {len(relations)} links, {len(bindings)} bindings, "
        f"{len(runs)} runs"
    )
    timings: dict[str, list[float]] = {
        key: [] for key in ("full", "new_run", "unchanged", "reloaded", "later")
    }
    checks: list[tuple[tuple, object]] = []  # (inputs, incremental result) to verify

    def timed(key, *inputs, cache):
        t = time.perf_counter()
        result = assess(*inputs, cache=cache)
        timings[key].append(time.perf_counter() - t)
        checks.append((inputs, result))
        return result

    def run_facts(rid, task, k, finished):
        return RunFacts(
            rid,
            task=task,
            model=MODEL,
            model_version=VERSION,
            finished_at=finished,
            metadata={"elicitation": {"attempts_per_task": 12, "effort_hours": 30}},
            statistics={"match": (k, 400)},
            sample_count=400,
        )

    for r in range(args.repeat):
        cache = AssessmentEngine()
        base = (case, nodes, relations, bindings, runs, attestations, NOW)
        first = timed("full", *base, cache=cache)

        # A failing run of task_17 arrives.
        more = [*runs, run_facts(f"new-{r}", "task_17", 300, NOW - timedelta(minutes=5))]
        inputs = (case, nodes, relations, bindings, more, attestations, NOW)
        second = timed("new_run", *inputs, cache=cache)
        timed("unchanged", *inputs, cache=cache)

        # Another run arrives, and the worker reloaded every row (equal, fresh objects).
        more = [*more, run_facts(f"again-{r}", "task_19", 0, NOW - timedelta(minutes=1))]
        copies = [
            [copy.copy(x) for x in xs] for xs in (nodes, relations, bindings, more, attestations)
        ]
        timed("reloaded", copy.copy(case), *copies, NOW, cache=cache)

        # A run of task_18 arrives an hour later.
        more = [*more, run_facts(f"newer-{r}", "task_18", 0, NOW)]
        later_now = NOW + timedelta(hours=1)
        timed("later", case, nodes, relations, bindings, more, attestations, later_now, cache=cache)

    # Every incremental result equals a fresh assessment of the same inputs.
    for inputs, result in checks[-5:]:
        assert assess(*inputs) == result, "an incremental result differs from a fresh one"

    counts: dict[str, int] = {}
    for status in first.statuses.values():
        counts[status] = counts.get(status, 0) + 1
    print(f"statuses: {counts}; flags: {len(first.flags)}")
    changed = [i for i in second.statuses if second.statuses[i] != first.statuses[i]]
    print(f"one new run (task_17) changed: {changed}")

    labels = {
        "full": "full assessment (new cache)",
        "new_run": "one new run, same now",
        "reloaded": "one new run, every input a reloaded copy",
        "later": "one new run, an hour later",
        "unchanged": "nothing changed",
    }
    print(f"first full assessment in this process: {timings['full'][0] * 1000:.1f} ms")
    for key, label in labels.items():
        values = timings[key]
        best, median = min(values) * 1000, statistics.median(values) * 1000
        print(f"{label:<44} best {best:8.1f} ms   median {median:8.1f} ms")
    full = min(timings["full"])
    print(
        "incremental / full (best): "
        + ", ".join(
            f"{labels[k]}: {min(timings[k]) / full:.3f}" for k in ("new_run", "reloaded", "later")
        )
    )


if __name__ == "__main__":
    main()
