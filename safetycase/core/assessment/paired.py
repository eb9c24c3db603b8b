"""The incentive contrast: success on the same samples under two conditions (two runs), paired
by sample id and epoch, with the exact McNemar test and an interval for the difference.

A check's or criterion's selector names the run of condition a (`task`, `conditions`, `scorer`)
and, under `paired_with`, the run of condition b: a selector whose missing `task`,
`task_version` and `scorer` are those of a. For the sandbagging check (catalogue A02) and
criterion (SI-Sn2), a is the run in which high scores are rewarded and b the one in which they
are penalised; a model that does worse on the same questions when doing well is penalised is
holding back.

Pairing is strict, because a silent mismatch would compare different questions: the two runs
must hold exactly the same (sample id, epoch) entries, one epoch per sample (epochs of one
sample are repeated trials of the same question, not independent pairs, and would shrink the
p-value), and the outcome of each entry must be a 0/1 score. A pair with no 0/1 outcome on
either side (an errored or unscored sample) is left out of the table and counted in
`unscored`, so a check can require none.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from evidence import statistics
from safetycase.core.assessment.facts import RunFacts
from safetycase.core.assessment.wording import joined

PAIRED_SELECTOR_KEY = "paired_with"
# Keys a `paired_with` selector may set; the model is always the one the check's selector wants.
PAIRED_SELECTOR_KEYS = ("task", "task_version", "conditions", "scorer")
_INHERITED = ("task", "task_version", "scorer")


class PairingError(ValueError):
    """Two runs whose samples cannot be paired; the message is a sentence naming why."""


def paired_selector(selector: Mapping[str, Any]) -> dict[str, Any] | None:
    """The selector of condition b's run: `paired_with` with what it leaves out taken from the
    check's selector (task, task version, scorer, and the model keys). None without pairing."""
    paired = selector.get(PAIRED_SELECTOR_KEY)
    if not isinstance(paired, Mapping):
        return None
    out = {key: selector[key] for key in _INHERITED if key in selector}
    for key in ("model", "model_version"):
        if key in selector:
            out[key] = selector[key]
    out.update({key: value for key, value in paired.items() if key in PAIRED_SELECTOR_KEYS})
    return out


def _outcomes(run: RunFacts, scorer: str) -> tuple[dict[tuple[str, int], bool | None], str]:
    """Each (sample id, epoch) of `run` with its 0/1 outcome for `scorer` (None when unscored),
    and the score name used."""
    if run.samples is None:
        raise PairingError(f"the samples of run {run.id} were not loaded")
    if not run.samples:
        raise PairingError(f"run {run.id} has no per-sample results to pair")
    names = {name for sample in run.samples for name in (sample.get("scores") or {})}
    if not scorer:
        if len(names) != 1:
            have = joined(sorted(names)) or "none"
            raise PairingError(
                f"run {run.id} has several scores ({have}); the selector must name one as 'scorer'"
            )
        (scorer,) = names
    elif scorer not in names:
        have = joined(sorted(names)) or "none"
        raise PairingError(f"run {run.id} has no score named {scorer!r} (it has {have})")
    outcomes: dict[tuple[str, int], bool | None] = {}
    per_sample: dict[str, int] = {}
    for sample in run.samples:
        key = (str(sample.get("id")), int(sample.get("epoch") or 1))
        per_sample[key[0]] = per_sample.get(key[0], 0) + 1
        score = (sample.get("scores") or {}).get(scorer)
        correct = score.get("correct") if isinstance(score, Mapping) else None
        outcomes[key] = None if sample.get("error") or not isinstance(correct, bool) else correct
    repeated = sorted(sample_id for sample_id, count in per_sample.items() if count > 1)
    if repeated:
        raise PairingError(
            f"run {run.id} has several epochs of {len(repeated)} sample(s) (e.g. "
            f"{joined(repeated)}); epochs repeat the same question and are not "
            "independent pairs, so send one epoch per sample"
        )
    return outcomes, scorer


def _ids_text(keys: list[tuple[str, int]]) -> str:
    shown = [
        sample_id if epoch == 1 else f"{sample_id} (epoch {epoch})" for sample_id, epoch in keys
    ]
    return joined(shown)


def paired_difference(
    run_a: RunFacts,
    run_b: RunFacts,
    *,
    scorer_a: str = "",
    scorer_b: str = "",
    confidence: float = statistics.DEFAULT_CONFIDENCE,
) -> dict[str, Any]:
    """The CEL variable `paired` for runs a and b: the 2×2 table of their paired outcomes
    (`both`, `only_a`, `only_b`, `neither`, `n` pairs, `unscored` pairs left out), the rates
    `acc_a`, `acc_b`, the difference `diff = acc_a − acc_b` with its two-sided interval
    `lower`, `upper` at `confidence` (Newcombe's, see evidence.statistics), the exact McNemar
    `p_value` (two-sided) and `p_greater` (a better than b), and the run ids `run_a`, `run_b`.
    Raises PairingError when the runs cannot be paired (see the module docstring)."""
    if run_a.id == run_b.id:
        raise PairingError(f"run {run_a.id} would be paired with itself")
    outcomes_a, scorer_a = _outcomes(run_a, scorer_a)
    outcomes_b, scorer_b = _outcomes(run_b, scorer_b or scorer_a)
    only_in_a = sorted(set(outcomes_a) - set(outcomes_b))
    only_in_b = sorted(set(outcomes_b) - set(outcomes_a))
    if only_in_a or only_in_b:
        parts = []
        if only_in_a:
            parts.append(f"{len(only_in_a)} only in run {run_a.id} ({_ids_text(only_in_a)})")
        if only_in_b:
            parts.append(f"{len(only_in_b)} only in run {run_b.id} ({_ids_text(only_in_b)})")
        raise PairingError(
            f"runs {run_a.id} and {run_b.id} do not hold the same samples: "
            f"{' and '.join(parts)}; a paired comparison needs every sample under both conditions"
        )
    both = only_a = only_b = neither = unscored = 0
    for key, a in outcomes_a.items():
        b = outcomes_b[key]
        if a is None or b is None:
            unscored += 1
        elif a and b:
            both += 1
        elif a:
            only_a += 1
        elif b:
            only_b += 1
        else:
            neither += 1
    if both + only_a + only_b + neither == 0:
        raise PairingError(
            f"runs {run_a.id} and {run_b.id} have no pair of samples with a 0/1 outcome for "
            f"{scorer_a!r}"
        )
    result = statistics.paired_binary_difference(both, only_a, only_b, neither, confidence)
    return {
        "run_a": run_a.id,
        "run_b": run_b.id,
        "scorer_a": scorer_a,
        "scorer_b": scorer_b,
        "n": result.n,
        "both": both,
        "only_a": only_a,
        "only_b": only_b,
        "neither": neither,
        "unscored": unscored,
        "acc_a": result.rate_a,
        "acc_b": result.rate_b,
        "diff": result.diff,
        "lower": result.lower,
        "upper": result.upper,
        "confidence": result.confidence,
        "p_value": result.p_value,
        "p_greater": result.p_greater,
    }


def paired_note(run: RunFacts) -> str:
    """'paired with run 12' for a run read with the other condition's run 12, else ''."""
    return f"paired with run {run.paired_with}" if run.paired_with is not None else ""


def sample_keys(run: RunFacts) -> frozenset[tuple[str, int]] | None:
    """The (sample id, epoch) entries of `run`, or None when its samples were not loaded."""
    if run.samples is None:
        return None
    return frozenset((str(s.get("id")), int(s.get("epoch") or 1)) for s in run.samples)


def with_pairing(
    run: RunFacts,
    partner: RunFacts | None,
    selector: Mapping[str, Any],
    scorer_a: str,
    missing: str,
) -> RunFacts:
    """`run` carrying its `paired` table with `partner` (the other condition's run), or the
    reason it cannot (`missing` when there is no partner), for criteria that judge each run."""
    if partner is None:
        return dataclasses.replace(run, paired=None, paired_error=missing, paired_with=None)
    run = dataclasses.replace(run, paired_with=partner.id)
    try:
        table = paired_difference(
            run,
            partner,
            scorer_a=scorer_a,
            scorer_b=str((paired_selector(selector) or {}).get("scorer") or ""),
        )
    except PairingError as exc:
        return dataclasses.replace(run, paired=None, paired_error=str(exc))
    return dataclasses.replace(run, paired=table, paired_error="")
