"""Diagram rendering benchmark: a 1,000-node GSN argument, DOT build and SVG render times.

Run with `make bench` or `.venv/bin/python bench/render.py`. No database is needed.
"""

from __future__ import annotations

import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "safetycase.settings_test")

import django  # noqa: E402

django.setup()

from django.core.cache import cache  # noqa: E402

from safetycase.adapters.graphviz import graphviz_pure_executable, render_svg, renderer  # noqa: E402
from safetycase.core.diagrams import argument_dot  # noqa: E402
from safetycase.core.gsn.model import Argument, Element, Relation  # noqa: E402

NODES = 1000
RUNS = 3

SUBJECTS = ["The model", "The deployed agent", "The monitor", "The evaluation suite", "Red-teaming"]
CLAIMS = [
    "cannot exfiltrate its own weights",
    "lacks the capability for stealthy sabotage",
    "does not sandbag on dangerous capability evaluations",
    "detects covert tool misuse within one hour",
    "covers every agentic task in the deployment",
    "shows no situational awareness beyond the baseline",
    "reports all attempts to disable oversight",
]
STRATEGIES = [
    "Argue over each scheming capability",
    "Argue over every deployment surface separately",
    "Argue by elimination of known failure modes",
    "Argue over monitoring coverage and response time",
]
EVIDENCE = [
    "Results of the sabotage evaluation suite",
    "Red-team report on monitor blind spots",
    "Elicitation study with fine-tuned baselines",
    "Audit log review of agent sessions",
]
CONTEXTS = [
    "Internal deployment as a coding agent",
    "Threat model version three from the safety team",
    "Definition of catastrophic harm in the policy",
]


def make_argument(n: int = NODES, seed: int = 7) -> Argument:
    """A tree of goals and strategies with solution leaves and some contexts."""
    rng = random.Random(seed)
    elements: list[Element] = [Element("G1", "goal", "The model cannot cause catastrophic harm")]
    relations: list[Relation] = []
    counters = {"goal": 1, "strategy": 0, "solution": 0, "context": 0}
    frontier = ["G1"]

    def add(type_: str, prefix: str, statement: str) -> str:
        counters[type_] += 1
        identifier = f"{prefix}{counters[type_]}"
        elements.append(Element(identifier, type_, statement, undeveloped=False))
        return identifier

    while len(elements) < n:
        parent = frontier.pop(0) if frontier else "G1"
        if parent.startswith("G"):
            if len(elements) + 1 < n and rng.random() < 0.25:
                context = add("context", "C", rng.choice(CONTEXTS))
                relations.append(Relation(parent, context, "in_context_of"))
            if len(elements) < n and rng.random() < 0.6:
                strategy = add("strategy", "S", rng.choice(STRATEGIES))
                relations.append(Relation(parent, strategy, "supported_by"))
                frontier.append(strategy)
            elif len(elements) < n:
                solution = add("solution", "Sn", rng.choice(EVIDENCE))
                relations.append(Relation(parent, solution, "supported_by"))
        else:
            for _ in range(rng.randint(2, 4)):
                if len(elements) >= n:
                    break
                statement = f"{rng.choice(SUBJECTS)} {rng.choice(CLAIMS)}"
                goal = add("goal", "G", statement)
                relations.append(Relation(parent, goal, "supported_by"))
                frontier.append(goal)
    return Argument(elements=elements[:n], relations=relations)


def timed(function) -> tuple[float, object]:
    start = time.perf_counter()
    result = function()
    return (time.perf_counter() - start) * 1000, result


def median_ms(function, runs: int = RUNS, before=None) -> float:
    samples = []
    for _ in range(runs):
        if before:
            before()
        samples.append(timed(function)[0])
    return statistics.median(samples)


def main() -> None:
    argument = make_argument()
    statuses = {e.identifier: "supported" for e in argument.elements[::3]}

    def node_url(identifier: str) -> str:
        return f"/cases/1/nodes/{identifier}/"

    def build() -> str:
        return argument_dot(argument, node_url=node_url, statuses=statuses)

    dot_source = build()
    name, _ = renderer()
    binary = graphviz_pure_executable()

    build_ms = median_ms(build)
    cold_ms = median_ms(lambda: render_svg(build()), before=cache.clear)
    svg = render_svg(dot_source)
    hit_ms = median_ms(lambda: render_svg(dot_source), runs=5)
    direct_ms = (
        median_ms(
            lambda: subprocess.run(
                [binary, "-Tsvg"], input=dot_source.encode(), capture_output=True, check=True
            )
        )
        if binary
        else None
    )

    print(
        f"{len(argument.elements)} nodes, {len(argument.relations)} edges; "
        f"DOT {len(dot_source) / 1024:.0f} KiB, SVG {len(svg) / 1024:.0f} KiB; "
        f"adapter renderer: {name}; median of {RUNS}"
    )
    rows = [
        ("build DOT (argument_dot)", build_ms),
        ("build + render via adapter, cold cache", cold_ms),
        ("render same DOT, graphviz-pure direct", direct_ms),
        ("render via adapter, cache hit", hit_ms),
    ]
    width = max(len(label) for label, _ in rows)
    print(f"| {'step':<{width}} | {'ms':>9} |")
    print(f"|{'-' * (width + 2)}|{'-' * 11}|")
    for label, ms in rows:
        value = f"{ms:9.2f}" if ms is not None else "      n/a"
        print(f"| {label:<{width}} | {value} |")


if __name__ == "__main__":
    main()
