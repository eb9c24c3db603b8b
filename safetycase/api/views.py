"""REST API for cases, nodes, links, findings and diagrams. Thin: selectors and services do
the work; domain errors become 4xx responses in safetycase.api.errors."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from safetycase import selectors, services
from safetycase.api import serializers as s
from safetycase.models import Link


class CaseListApi(generics.ListAPIView):
    """The cases you are a member of."""

    serializer_class = s.CaseListSerializer

    def get_queryset(self):
        return selectors.cases_for_user(user=self.request.user)


class CaseDetailApi(APIView):
    @extend_schema(
        responses=s.CaseDetailSerializer,
        description="A case with all its nodes and links. 404 unless you are a member.",
    )
    def get(self, request, case_id: int):
        case = selectors.case_for_user(user=request.user, case_id=case_id)
        data = s.CaseSerializer(case).data
        data["nodes"] = s.NodeSerializer(selectors.case_nodes(case=case), many=True).data
        data["links"] = s.LinkSerializer(selectors.case_links(case=case), many=True).data
        return Response(data)


class CaseFindingsApi(APIView):
    @extend_schema(
        responses=s.FindingSerializer(many=True),
        description=(
            "GSN well-formedness findings (rules R1–R16): each with its rule code, severity "
            "(`error` or `warning`), the node concerned and a sentence for a reviewer."
        ),
    )
    def get(self, request, case_id: int):
        case = selectors.case_for_user(user=request.user, case_id=case_id)
        findings = selectors.case_findings(case=case)
        return Response(s.FindingSerializer([f.as_dict() for f in findings], many=True).data)


class CaseDiagramApi(APIView):
    @extend_schema(
        responses={(200, "image/svg+xml"): OpenApiTypes.STR},
        description="The argument as a GSN diagram in SVG; every node links to its page.",
    )
    def get(self, request, case_id: int):
        case = selectors.case_for_user(user=request.user, case_id=case_id)
        return HttpResponse(selectors.case_diagram_svg(case=case), content_type="image/svg+xml")


class NodeCreateApi(APIView):
    @extend_schema(
        request=s.NodeCreateSerializer,
        responses={201: s.NodeSerializer},
        description="Add a node to a case (authors only).",
    )
    def post(self, request, case_id: int):
        case = selectors.case_for_user(user=request.user, case_id=case_id)
        data = _valid(s.NodeCreateSerializer, request.data)
        node = services.node_create(actor=request.user, case=case, **data)
        return Response(s.NodeSerializer(node).data, status=status.HTTP_201_CREATED)


class NodeDetailApi(APIView):
    @extend_schema(responses=s.NodeSerializer, description="One node of a case.")
    def get(self, request, case_id: int, identifier: str):
        case = selectors.case_for_user(user=request.user, case_id=case_id)
        node = selectors.node_for_case(case=case, identifier=identifier)
        return Response(s.NodeSerializer(node).data)

    @extend_schema(
        request=s.NodeUpdateSerializer,
        responses=s.NodeSerializer,
        description="Change some fields of a node (authors only).",
    )
    def patch(self, request, case_id: int, identifier: str):
        case = selectors.case_for_user(user=request.user, case_id=case_id)
        node = selectors.node_for_case(case=case, identifier=identifier)
        data = _valid(s.NodeUpdateSerializer, request.data, partial=True)
        node = services.node_update(actor=request.user, node=node, **data)
        return Response(s.NodeSerializer(node).data)

    @extend_schema(
        responses={204: OpenApiResponse(description="Deleted with its links.")},
        description="Delete a node and every link to or from it (authors only).",
    )
    def delete(self, request, case_id: int, identifier: str):
        case = selectors.case_for_user(user=request.user, case_id=case_id)
        node = selectors.node_for_case(case=case, identifier=identifier)
        services.node_delete(actor=request.user, node=node)
        return Response(status=status.HTTP_204_NO_CONTENT)


class LinkCreateApi(APIView):
    @extend_schema(
        request=s.LinkCreateSerializer,
        responses={201: s.LinkSerializer},
        description="Link two nodes of a case by identifier (authors only).",
    )
    def post(self, request, case_id: int):
        case = selectors.case_for_user(user=request.user, case_id=case_id)
        data = _valid(s.LinkCreateSerializer, request.data)
        link = services.link_create(actor=request.user, case=case, **data)
        return Response(s.LinkSerializer(link).data, status=status.HTTP_201_CREATED)


class LinkDeleteApi(APIView):
    @extend_schema(
        responses={204: OpenApiResponse(description="Deleted.")},
        description="Delete a link (authors only).",
    )
    def delete(self, request, case_id: int, link_id: int):
        case = selectors.case_for_user(user=request.user, case_id=case_id)
        link = Link.objects.filter(case=case, pk=link_id).first()
        if link is None:
            return Response({"detail": f"Case {case.pk} has no link {link_id}."}, status=404)
        services.link_delete(actor=request.user, link=link)
        return Response(status=status.HTTP_204_NO_CONTENT)


def _valid(serializer_class, data, *, partial: bool = False) -> dict:
    serializer = serializer_class(data=data, partial=partial)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)
