"""API of a case's members (owners manage them) and of its audit trail (every member reads).

Thin: safetycase.services.memberships and safetycase.selectors.audit do the work; domain errors
become 4xx responses in safetycase.api.errors.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from safetycase import selectors, services
from safetycase.choices import Role
from safetycase.models import SafetyCase


class MemberSerializer(serializers.Serializer):
    username = serializers.CharField(source="user.username")
    role = serializers.ChoiceField(choices=Role.choices)


class MemberAddSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    role = serializers.ChoiceField(choices=Role.choices)


class MemberRoleSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices)


class FieldChangeSerializer(serializers.Serializer):
    field = serializers.CharField()
    old = serializers.JSONField(allow_null=True)
    new = serializers.JSONField(allow_null=True)


class AuditEntrySerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    who = serializers.CharField(allow_null=True, help_text="Username; null for the system.")
    action = serializers.ChoiceField(
        choices=["created", "changed", "deleted", "signed off", "co-signed"]
    )
    object_type = serializers.ChoiceField(choices=[*selectors.AUDITED, "version", "signature"])
    object = serializers.CharField()
    changes = FieldChangeSerializer(many=True)
    reason = serializers.CharField(allow_blank=True)


def _valid(serializer_class, data) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class CaseMembersApi(APIView):
    @extend_schema(
        responses=MemberSerializer(many=True),
        description="The members of the case and their roles (every member may read).",
    )
    def get(self, request, case_id: int):
        case = selectors.case_for_user(user=request.user, case_id=case_id)
        return Response(MemberSerializer(selectors.case_members(case=case), many=True).data)

    @extend_schema(
        request=MemberAddSerializer,
        responses={
            201: MemberSerializer,
            400: OpenApiResponse(description="No such user, or not a role."),
            403: OpenApiResponse(description="Only owners manage members."),
            409: OpenApiResponse(description="Already a member."),
        },
        description="Add a user to the case by username with a role (owners only).",
    )
    def post(self, request, case_id: int):
        case = selectors.case_for_user(user=request.user, case_id=case_id)
        data = _valid(MemberAddSerializer, request.data)
        membership = services.membership_add(actor=request.user, case=case, **data)
        return Response(MemberSerializer(membership).data, status=status.HTTP_201_CREATED)


class CaseMemberDetailApi(APIView):
    def _membership(self, request, case_id: int, username: str):
        case = selectors.case_for_user(user=request.user, case_id=case_id)
        return selectors.membership_for_case(case=case, username=username)

    @extend_schema(responses=MemberSerializer, description="One member of the case.")
    def get(self, request, case_id: int, username: str):
        return Response(MemberSerializer(self._membership(request, case_id, username)).data)

    @extend_schema(
        request=MemberRoleSerializer,
        responses={
            200: MemberSerializer,
            403: OpenApiResponse(description="Only owners manage members."),
            409: OpenApiResponse(description="The last owner cannot be demoted."),
        },
        description="Change a member's role (owners only).",
    )
    def patch(self, request, case_id: int, username: str):
        membership = self._membership(request, case_id, username)
        data = _valid(MemberRoleSerializer, request.data)
        membership = services.membership_change_role(
            actor=request.user, membership=membership, role=data["role"]
        )
        return Response(MemberSerializer(membership).data)

    @extend_schema(
        responses={
            204: OpenApiResponse(description="Removed."),
            403: OpenApiResponse(description="Only owners manage members."),
            409: OpenApiResponse(description="The last owner cannot be removed."),
        },
        description="Remove a member from the case (owners only).",
    )
    def delete(self, request, case_id: int, username: str):
        membership = self._membership(request, case_id, username)
        services.membership_remove(actor=request.user, membership=membership)
        return Response(status=status.HTTP_204_NO_CONTENT)


class CaseAuditApi(generics.ListAPIView):
    """Every recorded change in the case, newest first (limit/offset pages): who (username,
    null for the system), when, what (created, changed, deleted, signed off, co-signed), the
    object and its field changes. Every member may read it."""

    serializer_class = AuditEntrySerializer
    queryset = SafetyCase.objects.none()  # for the schema; list() reads the case's audit trail

    def list(self, request, case_id: int):
        case = selectors.case_for_user(user=request.user, case_id=case_id)
        page = self.paginate_queryset(selectors.case_audit_refs(case=case))
        return self.get_paginated_response(
            AuditEntrySerializer(selectors.audit_entries(page), many=True).data
        )
