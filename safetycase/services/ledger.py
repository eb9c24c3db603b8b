"""The evidence ledger's reviewer actions: withdrawing a run from a binding's evidence, and
acknowledging a criterion that was changed after evidence that failed it had arrived.

Rules:
- Only reviewers of the case act here, never its authors (who wrote the criterion) and never
  the person who uploaded the run: the check on evidence is someone else's.
- A withdrawal needs a reason; the run stays in the ledger, marked withdrawn with the reason,
  and the history table keeps who did it and when (the audit trail).
- An acknowledgement needs a note; until then the change is flagged on the node.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone

from safetycase import selectors
from safetycase.choices import BindingKind
from safetycase.errors import ApplicationError, Conflict, NotFound, PermissionDenied
from safetycase.models import CriterionChange, EvidenceBinding, Node, RunWithdrawal
from safetycase.services.queue import reassesses_case


@reassesses_case("run withdrawn from evidence")
def run_withdraw(*, actor, binding: EvidenceBinding, run_id, reason: str) -> RunWithdrawal:
    case = binding.case
    if not actor.has_perm("safetycase.review_case", case):
        raise PermissionDenied(
            f"Only reviewers of case {case.pk} may withdraw a run from its evidence; the "
            "case's authors never can."
        )
    if binding.kind != BindingKind.CRITERION and not binding.selector:
        raise ApplicationError(
            "This check has no selector of its own: it reads the runs of the solutions in its "
            "scope, so withdraw a run from those solutions' criteria instead."
        )
    if not isinstance(reason, str) or not reason.strip():
        raise ApplicationError("Withdrawing a run needs a reason saying why it is not evidence.")
    run = selectors.usable_run_for_case(case=case, run_id=run_id)
    if run is None:
        raise NotFound(f"There is no run {run_id} that case {case.pk} can use.")
    if run.log_file.uploaded_by_id == actor.pk:
        raise PermissionDenied("You uploaded this run; another reviewer must withdraw it.")
    in_ledger = {entry.run for entry in selectors.binding_ledger(binding=binding)}
    if run.pk not in in_ledger:
        raise ApplicationError(
            f"Run {run.pk} is not in the evidence of this {binding.kind} of {binding.node}: its "
            "selector does not pick it for this case, or it is not a fresh, successful run."
        )
    try:
        with transaction.atomic():
            return RunWithdrawal.objects.create(
                case=case,
                binding=binding,
                node_id=binding.node_id,
                run=run,
                reason=reason.strip(),
                withdrawn_by=actor,
            )
    except IntegrityError as exc:
        raise Conflict(f"Run {run.pk} is already withdrawn from this {binding.kind}.") from exc


@reassesses_case("criterion change acknowledged")
@transaction.atomic
def criterion_change_acknowledge(
    *, actor, node: Node, change: CriterionChange, note: str
) -> CriterionChange:
    """`node` is the change's node (its binding may since have been deleted)."""
    case = node.case
    if not actor.has_perm("safetycase.review_case", case):
        raise PermissionDenied(
            f"Only reviewers of case {case.pk} may acknowledge a changed criterion."
        )
    if change.changed_by_id == actor.pk:
        raise PermissionDenied("Whoever changed a criterion cannot acknowledge the change.")
    if not isinstance(note, str) or not note.strip():
        raise ApplicationError(
            "Acknowledging a changed criterion needs a note saying why the change is sound."
        )
    change = CriterionChange.objects.select_for_update().get(pk=change.pk)
    if change.acknowledged_at is not None:
        raise Conflict("This criterion change is already acknowledged.")
    change.acknowledged_by = actor
    change.acknowledged_at = timezone.now()
    change.acknowledgement = note.strip()
    change.save()
    return change
