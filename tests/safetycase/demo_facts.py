"""The demo case and its runs as the pure assessment's facts, without a database: the ROOT
template instantiated with the demo's parameters (and its open obligations), and each run file
as `RunFacts` dated as if today were the demo's reference date. Tests change runs or
parameters to put adversarial evidence through the real templates."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from evidence.parsers import generic
from safetycase.core.assessment import BindingFacts, CaseFacts, NodeFacts, RunFacts, assess
from safetycase.core.gsn.model import Relation
from safetycase.core.library import default_library, instantiate
from safetycase.management.commands.load_demo import RUNS_DIR, read_spec

SPEC = read_spec()
NOW = datetime(
    SPEC["reference_date"].year,
    SPEC["reference_date"].month,
    SPEC["reference_date"].day,
    12,
    tzinfo=UTC,
)


def demo_parameters(**overrides: Any) -> dict[str, Any]:
    case = SPEC["case"]
    values = {
        **SPEC["parameters"],
        "model": case["model_name"],
        "model_version": str(case["model_version"]),
        "deployment": case["deployment"],
    }
    values.update(overrides)
    return values


def demo_instance(**overrides: Any):
    return instantiate(default_library(), SPEC["template"], demo_parameters(**overrides))


def run_documents() -> dict[str, dict[str, Any]]:
    """Run file name (without .json) -> its document."""
    return {
        path.stem: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(RUNS_DIR.glob("*.json"))
    }


def run_fact(run_id: int, document: Mapping[str, Any]) -> RunFacts:
    run = document["run"]
    finished = run.get("completed_at")
    return RunFacts(
        id=run_id,
        task=document["task"]["name"],
        task_version=str(document["task"].get("version", "")),
        model=document["model"]["name"],
        model_version=str(document["model"].get("version", "")),
        log_status=run.get("status", "success"),
        finished_at=datetime.fromisoformat(finished.replace("Z", "+00:00")) if finished else None,
        metadata=document.get("metadata") or {},
        statistics=statistics_of(document),
        samples=samples_of(document),
        # What the generic parser derives from raw milestone / best-of-N data, as on upload.
        estimation=generic.estimation(document) if generic.has_estimation_data(document) else {},
    )


def samples_of(document: Mapping[str, Any]) -> tuple[dict[str, Any], ...] | None:
    """The document's samples as the assessment reads them (0/1 scores only: the demo's)."""
    if "samples" not in document:
        return None
    return tuple(
        {
            "id": str(sample["id"]),
            "epoch": sample.get("epoch", 1),
            "scores": {
                name: {"value": float(value), "correct": value}
                for name, value in sample["scores"].items()
            },
            "error": sample.get("error", ""),
        }
        for sample in document["samples"]
    )


def statistics_of(document: Mapping[str, Any]) -> dict[str, tuple[int, int]]:
    if "samples" in document:  # one 0/1 score per sample, whatever its name
        tallies: dict[str, list[int]] = {}
        for sample in document["samples"]:
            for name, value in sample["scores"].items():
                tally = tallies.setdefault(name, [0, 0])
                tally[0] += bool(value)
                tally[1] += 1
        return {name: (k, n) for name, (k, n) in tallies.items()}
    return {r["scorer"]: (r["successes"], r["trials"]) for r in document.get("results", [])}


def with_counts(document: Mapping[str, Any], k: int, n: int) -> dict[str, Any]:
    """A copy of a run document whose single tally is k of n."""
    (result,) = document["results"]
    return {**document, "results": [{**result, "successes": k, "trials": n}]}


class Demo:
    """The demo as facts; change `documents` or `criteria`, or pass parameter overrides, then
    `assess()`."""

    def __init__(self, **overrides: Any) -> None:
        self.instance = demo_instance(**overrides)
        self.documents = run_documents()
        self.extra_nodes: list[NodeFacts] = []
        self.extra_relations: list[Relation] = []
        # Solution identifier -> a criterion replacing its template's (single-binding nodes).
        self.criteria: dict[str, str] = {}
        for obligation in SPEC.get("open_obligations", []):
            self.extra_nodes.append(
                NodeFacts(obligation["identifier"], "goal", obligation["statement"], True)
            )
            for relation in self.instance.relations:
                if relation.target == obligation["beside"] and relation.type == "supported_by":
                    self.extra_relations.append(
                        Relation(relation.source, obligation["identifier"], "supported_by")
                    )

    def node_ids(self) -> list[str]:
        return [n.identifier for n in self.instance.nodes]

    def bindings(self) -> list[BindingFacts]:
        return [
            BindingFacts(
                i,
                b.node,
                b.kind,
                b.selector,
                b.freshness_days,
                self.criteria.get(b.node, b.expression),
            )
            for i, b in enumerate(self.instance.bindings, start=1)
        ]

    def runs(self) -> list[RunFacts]:
        return [run_fact(i, doc) for i, doc in enumerate(self.documents.values(), start=1)]

    def run_id(self, name: str) -> int:
        return list(self.documents).index(name) + 1

    def assess(self, case: CaseFacts | None = None):
        spec = SPEC["case"]
        nodes = [
            NodeFacts(
                n.identifier,
                n.type,
                n.statement,
                n.undeveloped,
                n.combination,
                n.catalogue_id,
                n.attributes,
            )
            for n in self.instance.nodes
        ]
        return assess(
            case or CaseFacts(spec["model_name"], str(spec["model_version"])),
            nodes + self.extra_nodes,
            list(self.instance.relations) + self.extra_relations,
            self.bindings(),
            self.runs(),
            [],
            NOW,
        )
