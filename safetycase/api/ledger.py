"""API of the evidence ledger's reviewer actions: withdrawing a run from a criterion's evidence
and acknowledging a criterion changed after evidence that failed it had arrived.

Thin: safetycase.services.ledger does the work; domain errors become 4xx responses in
safetycase.api.errors.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from safetycase import selectors, services
from safetycase.models import CriterionChange, RunWithdrawal


class WithdrawalSerializer(serializers.ModelSerializer):
    node = serializers.CharField(source="node.identifier")
    withdrawn_by = serializers.CharField(source="withdrawn_by.username")

    class Meta:
        model = RunWithdrawal
        fields = ["id", "binding", "node", "run", "reason", "withdrawn_by", "created_at"]


class WithdrawSerializer(serializers.Serializer):
    run = serializers.IntegerField(help_text="Id of a run in the criterion's evidence.")
    reason = serializers.CharField(help_text="Why the run is not valid evidence.")


class CriterionChangeSerializer(serializers.ModelSerializer):
    node = serializers.CharField(source="node.identifier")
    changed_by = serializers.CharField(source="changed_by.username", allow_null=True)
    acknowledged_by = serializers.CharField(source="acknowledged_by.username", allow_null=True)

    class Meta:
        model = CriterionChange
        fields = [
            "id",
            "binding",
            "node",
            "run",
            "old_expression",
            "new_expression",
            "changed_by",
            "changed_at",
            "acknowledged_by",
            "acknowledged_at",
            "acknowledgement",
        ]


class AcknowledgeSerializer(serializers.Serializer):
    note = serializers.CharField(help_text="Why the changed criterion is sound.")


def _valid(serializer_class, data) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class BindingWithdrawalsApi(APIView):
    @extend_schema(
        responses=WithdrawalSerializer(many=True),
        description=(
            "The runs withdrawn from this criterion's (or selector check's) evidence, with who "
            "and why."
        ),
    )
    def get(self, request, case_id: int, binding_id: int):
        case = selectors.case_for_user(user=request.user, case_id=case_id)
        binding = selectors.binding_for_case(case=case, binding_id=binding_id)
        rows = binding.withdrawals.select_related("node", "withdrawn_by").order_by("id")
        return Response(WithdrawalSerializer(rows, many=True).data)

    @extend_schema(
        request=WithdrawSerializer,
        responses={
            201: WithdrawalSerializer,
            403: OpenApiResponse(description="Only reviewers (never authors or the uploader)."),
        },
        description=(
            "Withdraw a run from the evidence of an acceptance criterion, or of an assumption "
            "check with its own selector, with a reason (reviewers only, never the case's "
            "authors nor the run's uploader). The run stays in the ledger, marked withdrawn, "
            "and no longer counts; the case is re-assessed. A check with an empty selector reads "
            "its scope's criteria: withdraw the run there (400)."
        ),
    )
    def post(self, request, case_id: int, binding_id: int):
        case = selectors.case_for_user(user=request.user, case_id=case_id)
        binding = selectors.binding_for_case(case=case, binding_id=binding_id)
        data = _valid(WithdrawSerializer, request.data)
        withdrawal = services.run_withdraw(
            actor=request.user, binding=binding, run_id=data["run"], reason=data["reason"]
        )
        return Response(WithdrawalSerializer(withdrawal).data, status=status.HTTP_201_CREATED)


class CriterionChangesApi(APIView):
    @extend_schema(
        responses=CriterionChangeSerializer(many=True),
        description=(
            "Criteria changed after a run that failed the old criterion was evidence "
            "(pre-registration), acknowledged or not."
        ),
    )
    def get(self, request, case_id: int):
        case = selectors.case_for_user(user=request.user, case_id=case_id)
        rows = case.criterion_changes.select_related(
            "node", "changed_by", "acknowledged_by"
        ).order_by("id")
        return Response(CriterionChangeSerializer(rows, many=True).data)


class CriterionChangeAcknowledgeApi(APIView):
    @extend_schema(
        request=AcknowledgeSerializer,
        responses={201: CriterionChangeSerializer},
        description=(
            "Acknowledge a changed criterion with a note (reviewers only, not whoever changed "
            "it): its criterion_changed_after_evidence flag clears."
        ),
    )
    def post(self, request, case_id: int, change_id: int):
        case = selectors.case_for_user(user=request.user, case_id=case_id)
        change = selectors.criterion_change_for_case(case=case, change_id=change_id)
        data = _valid(AcknowledgeSerializer, request.data)
        change = services.criterion_change_acknowledge(
            actor=request.user, node=change.node, change=change, note=data["note"]
        )
        return Response(CriterionChangeSerializer(change).data, status=status.HTTP_201_CREATED)
