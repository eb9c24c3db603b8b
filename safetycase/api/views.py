"""REST API for cases, nodes, links, findings and diagrams. Thin: selectors and services do
the work; domain errors become 4xx responses in safetycase.api.errors."""

from __future__ import annotations

import re

from django.http import HttpResponse
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.http import http_date, parse_etags
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from safetycase import selectors, services
from safetycase.api import serializers as s
from safetycase.core.diff import diff_snapshots
from safetycase.core.library.describe import template_detail, template_summary
from safetycase.models import Assessment

# The same test as Django's GZipMiddleware.
ACCEPTS_GZIP = re.compile(r"\bgzip\b")


class CaseListApi(generics.ListAPIView):
    """The cases you are a member of (GET), or a new case (POST)."""

    serializer_class = s.CaseListSerializer

    def get_queryset(self):
        return selectors.cases_for_user(user=self.request.user)

    @extend_schema(
        description="The cases you are a member of, with their node counts.",
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=s.CaseCreateSerializer,
        responses={
            201: s.CaseCreatedSerializer,
            400: OpenApiResponse(
                s.InstantiationErrorSerializer,
                description="Invalid input; `missing` lists required template parameters "
                "without a value, `unknown` parameters the template lacks, `invalid` values "
                "of the wrong type.",
            ),
            409: OpenApiResponse(description="A case with this name exists in that project."),
        },
        description=(
            "Create a case; you become its owner. With `template` (an id from "
            "`GET /api/v1/templates/`) and `parameters`, the case is instantiated from the "
            "scheming argument library: every node remembers the template node it came from "
            "(`template_ref`), solutions and assumptions get their default evidence bindings "
            "and checks, and the argument passes the GSN rules. Without `template` the case "
            "is empty."
        ),
    )
    def post(self, request):
        data = _valid(s.CaseCreateSerializer, request.data)
        template = data.pop("template")
        parameters = data.pop("parameters")
        if template:
            case = services.case_instantiate_template(
                template=template, parameters=parameters, owner=request.user, **data
            )
        else:
            if parameters:
                return Response(
                    {"detail": "Parameters need a template.", "unknown": sorted(parameters)},
                    status=status.HTTP_400_BAD_REQUEST,
                )
            case = services.case_create(owner=request.user, **data)
        payload = s.CaseSerializer(case).data
        payload["nodes"] = s.NodeSerializer(selectors.case_nodes(case=case), many=True).data
        payload["links"] = s.LinkSerializer(selectors.case_links(case=case), many=True).data
        payload["bindings"] = s.BindingSerializer(
            selectors.case_bindings(case=case), many=True
        ).data
        return Response(payload, status=status.HTTP_201_CREATED)


def unless_not_modified(request, etag: str, answer, last_modified=None):
    """304 Not Modified when the request's If-None-Match names `etag` (weak or strong), else
    `answer()`; either way with the ETag (and Last-Modified, for information: only the ETag
    answers 304, since not every change leaves a time). Only the reader's browser keeps it
    (access is per user: `Vary: Cookie`, `private`), and it asks again each time (no-cache),
    so a change shows at once."""
    sent = {tag.removeprefix("W/") for tag in parse_etags(request.headers.get("If-None-Match", ""))}
    response = HttpResponse(status=304) if etag in sent or "*" in sent else answer()
    response["ETag"] = etag
    if last_modified:
        response["Last-Modified"] = http_date(last_modified.timestamp())
    response["Cache-Control"] = "private, no-cache"
    patch_vary_headers(response, ["Cookie", "Authorization"])
    return response


def svg_response(request, svg: bytes, gzipped: bytes) -> HttpResponse:
    """The SVG, sent gzipped (already compressed, so the compression middleware leaves it)
    when the client accepts gzip."""
    if ACCEPTS_GZIP.search(request.headers.get("Accept-Encoding", "")):
        response = HttpResponse(gzipped, content_type="image/svg+xml")
        response["Content-Encoding"] = "gzip"
    else:
        response = HttpResponse(svg, content_type="image/svg+xml")
    patch_vary_headers(response, ["Accept-Encoding"])
    return response


class CaseDetailApi(APIView):
    @extend_schema(
        responses=s.CaseDetailSerializer,
        description=(
            "A case with all its nodes and links. 404 unless you are a member. The answer "
            "carries an `ETag` and `Last-Modified`; the ETag sent back as `If-None-Match` gets "
            "304 Not Modified (no body) while the case is unchanged. Gzipped for clients that "
            "accept it (the ETag then weak, `W/`)."
        ),
    )
    def get(self, request, case_id: int):
        case = selectors.case_for_user(user=request.user, case_id=case_id)

        def answer():
            data = s.CaseSerializer(case).data
            data["nodes"] = s.NodeSerializer(selectors.case_nodes(case=case), many=True).data
            data["links"] = s.LinkSerializer(selectors.case_links(case=case), many=True).data
            return Response(data)

        etag, last_modified = selectors.case_detail_validators(case=case)
        return unless_not_modified(request, etag, answer, last_modified)


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
        description=(
            "The argument as a GSN diagram in SVG; every node links to its page. The answer "
            "carries an `ETag` and `Last-Modified`; the ETag sent back as `If-None-Match` gets "
            "304 Not Modified (no body) while the argument is unchanged. Sent gzipped "
            "(`Content-Encoding: gzip`) to clients whose `Accept-Encoding` names gzip."
        ),
    )
    def get(self, request, case_id: int):
        case = selectors.case_for_user(user=request.user, case_id=case_id)
        etag, last_modified = selectors.case_diagram_validators(case=case)
        return unless_not_modified(
            request,
            etag,
            lambda: svg_response(request, *selectors.case_diagram_bytes(case=case, etag=etag)),
            last_modified,
        )


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
        node = _case_node(request, case_id, identifier)
        return Response(s.NodeSerializer(node).data)

    @extend_schema(
        request=s.NodeUpdateSerializer,
        responses=s.NodeSerializer,
        description="Change some fields of a node (authors only).",
    )
    def patch(self, request, case_id: int, identifier: str):
        node = _case_node(request, case_id, identifier)
        data = _valid(s.NodeUpdateSerializer, request.data, partial=True)
        node = services.node_update(actor=request.user, node=node, **data)
        return Response(s.NodeSerializer(node).data)

    @extend_schema(
        responses={204: OpenApiResponse(description="Deleted with its links.")},
        description="Delete a node and every link to or from it (authors only).",
    )
    def delete(self, request, case_id: int, identifier: str):
        node = _case_node(request, case_id, identifier)
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
        link = selectors.link_for_case(case=case, link_id=link_id)
        services.link_delete(actor=request.user, link=link)
        return Response(status=status.HTTP_204_NO_CONTENT)


def _case_node(request, case_id: int, identifier: str):
    """The node of a case the user can see (NotFound otherwise)."""
    case = selectors.case_for_user(user=request.user, case_id=case_id)
    return selectors.node_for_case(case=case, identifier=identifier)


def _valid(serializer_class, data, *, partial: bool = False) -> dict:
    serializer = serializer_class(data=data, partial=partial)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class CaseInstantiateApi(APIView):
    @extend_schema(
        request=s.CaseInstantiateSerializer,
        responses={
            201: s.InstantiationResultSerializer,
            400: OpenApiResponse(
                s.InstantiationErrorSerializer,
                description="Invalid input, e.g. required parameters missing (`missing`).",
            ),
            403: OpenApiResponse(description="Only authors may instantiate templates."),
            404: OpenApiResponse(description="No such case (or not yours), or no such goal."),
            409: OpenApiResponse(description="Identifiers clash; choose another `prefix`."),
        },
        description=(
            "Instantiate a library template inside this case and attach its top goal under the "
            "goal (or strategy) `under` (authors only). New identifiers carry the template's "
            "prefix (SI-G1) unless `prefix` is given; catalogue assumptions the case already "
            "has (A06, …) are reused. `model`, `model_version` and `deployment` default to the "
            "case's fields."
        ),
    )
    def post(self, request, case_id: int):
        case = selectors.case_for_user(user=request.user, case_id=case_id)
        data = _valid(s.CaseInstantiateSerializer, request.data)
        result = services.template_instantiate_into(actor=request.user, case=case, **data)
        return Response(
            s.InstantiationResultSerializer(
                {
                    "case": case.pk,
                    "top": result.top,
                    "created": result.created,
                    "reused": result.reused,
                    "bindings": result.bindings,
                }
            ).data,
            status=status.HTTP_201_CREATED,
        )


class TemplateListApi(APIView):
    @extend_schema(
        responses=s.TemplateSummarySerializer(many=True),
        description=(
            "The argument templates of the scheming library (ROOT, SI, HI, HC, AL): id, title, "
            "summary, the templates each can attach and its required parameters."
        ),
    )
    def get(self, request):
        library = selectors.template_library()
        items = []
        for template_id in library.templates:
            item = template_summary(library, template_id)
            item["url"] = request.build_absolute_uri(
                reverse("api_template_detail", args=[template_id])
            )
            items.append(item)
        return Response(s.TemplateSummarySerializer(items, many=True).data)


class TemplateDetailApi(APIView):
    @extend_schema(
        responses={
            200: s.TemplateDetailSerializer,
            404: OpenApiResponse(description="No such template."),
        },
        description=(
            "A template's documentation: its parameters (with those of included templates and "
            "of the catalogue assumptions it uses), optional and repeated parts, nodes with "
            "their default evidence bindings (CEL criteria), the assumptions it draws from the "
            "catalogue, its sources, ROOT's risk rules and example parameter values."
        ),
    )
    def get(self, request, template_id: str):
        library = selectors.template_library()
        if template_id not in library.templates:
            return Response({"detail": f"There is no template {template_id!r}."}, status=404)
        detail = template_detail(library, template_id)
        detail["url"] = request.build_absolute_uri()
        return Response(s.TemplateDetailSerializer(detail).data)


# --------------------------------------------------------------------------------------------
# Assessment, flags, attestations and evidence bindings


class CaseAssessmentApi(APIView):
    @extend_schema(
        responses=s.AssessmentSerializer,
        description=(
            "The latest assessment of the case: each node's status (`supported`, `defeated`, "
            "`at_risk`, `undeveloped`) with the reason, every flag, summary counts, what "
            "triggered it and what changed since the previous one, and each acceptance "
            "criterion's ledger (`bindings`: every eligible run with k/n, the criterion's value "
            "on it and its role). A case never assessed is assessed now."
        ),
    )
    def get(self, request, case_id: int):
        case = selectors.case_for_user(user=request.user, case_id=case_id)
        latest = selectors.latest_assessment(case=case) or services.case_assess(
            case=case, trigger="manual", detail=f"first read by {request.user}"
        )
        return Response(s.AssessmentSerializer(latest).data)


class CaseAssessmentHistoryApi(generics.ListAPIView):
    """Earlier assessments, newest first, each with its trigger and changes."""

    serializer_class = s.AssessmentHistorySerializer
    queryset = Assessment.objects.none()  # for the schema; get_queryset scopes it to the case

    def get_queryset(self):
        case = selectors.case_for_user(user=self.request.user, case_id=self.kwargs["case_id"])
        return case.assessments.order_by("-created_at", "-id")


class CaseFlagsApi(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("type", str, description="Only flags of this type."),
            OpenApiParameter("severity", str, enum=["error", "warning", "info"]),
            OpenApiParameter("node", str, description="Only flags on this node."),
        ],
        responses=s.FlagSerializer(many=True),
        description="The open flags of the latest assessment.",
    )
    def get(self, request, case_id: int):
        case = selectors.case_for_user(user=request.user, case_id=case_id)
        latest = selectors.latest_assessment(case=case) or services.case_assess(
            case=case, trigger="manual", detail=f"first read by {request.user}"
        )
        flags = latest.flags
        for key in ("type", "severity", "node"):
            if request.query_params.get(key):
                flags = [f for f in flags if f[key] == request.query_params[key]]
        return Response(s.FlagSerializer(flags, many=True).data)


class AttestationListApi(APIView):
    @extend_schema(responses=s.AttestationSerializer(many=True), description="Attestations.")
    def get(self, request, case_id: int):
        case = selectors.case_for_user(user=request.user, case_id=case_id)
        attestations = case.attestations.select_related("node", "attested_by")
        return Response(s.AttestationSerializer(attestations, many=True).data)

    @extend_schema(
        request=s.AttestationCreateSerializer,
        responses={201: s.AttestationSerializer},
        description="Attest that an assumption holds (reviewers only); re-assesses the case.",
    )
    def post(self, request, case_id: int):
        case = selectors.case_for_user(user=request.user, case_id=case_id)
        data = _valid(s.AttestationCreateSerializer, request.data)
        node = selectors.node_for_case(case=case, identifier=data.pop("node"))
        attestation = services.attestation_create(actor=request.user, node=node, **data)
        return Response(s.AttestationSerializer(attestation).data, status=201)


class BindingListApi(APIView):
    @extend_schema(responses=s.BindingSerializer(many=True), description="Evidence bindings.")
    def get(self, request, case_id: int):
        case = selectors.case_for_user(user=request.user, case_id=case_id)
        bindings = case.bindings.select_related("node").order_by("node__identifier", "id")
        return Response(s.BindingSerializer(bindings, many=True).data)

    @extend_schema(
        request=s.BindingCreateSerializer,
        responses={201: s.BindingSerializer},
        description=(
            "Bind evidence to a solution (an acceptance criterion) or an assumption (a check), "
            "authors only. The CEL expression is compiled first; an unknown name or a syntax "
            "error is a 400 that says which."
        ),
    )
    def post(self, request, case_id: int):
        case = selectors.case_for_user(user=request.user, case_id=case_id)
        data = _valid(s.BindingCreateSerializer, request.data)
        node = selectors.node_for_case(case=case, identifier=data.pop("node"))
        binding = services.binding_create(actor=request.user, node=node, **data)
        return Response(s.BindingSerializer(binding).data, status=201)


class BindingDetailApi(APIView):
    def _binding(self, request, case_id: int, binding_id: int):
        case = selectors.case_for_user(user=request.user, case_id=case_id)
        return selectors.binding_for_case(case=case, binding_id=binding_id)

    @extend_schema(
        request=s.BindingUpdateSerializer,
        responses=s.BindingSerializer,
        description="Change a binding's selector, freshness, expression or description.",
    )
    def patch(self, request, case_id: int, binding_id: int):
        binding = self._binding(request, case_id, binding_id)
        data = _valid(s.BindingUpdateSerializer, request.data, partial=True)
        binding = services.binding_update(actor=request.user, binding=binding, **data)
        return Response(s.BindingSerializer(binding).data)

    @extend_schema(responses={204: OpenApiResponse(description="Deleted.")})
    def delete(self, request, case_id: int, binding_id: int):
        binding = self._binding(request, case_id, binding_id)
        services.binding_delete(actor=request.user, binding=binding)
        return Response(status=status.HTTP_204_NO_CONTENT)


# ---------------------------------------------------------------------------------------------
# Review: signed-off versions (read-only once created; only reviewers sign off).


class VersionListApi(APIView):
    @extend_schema(
        responses=s.VersionSerializer(many=True),
        description="The case's signed-off versions, newest first.",
    )
    def get(self, request, case_id: int):
        case = selectors.case_for_user(user=request.user, case_id=case_id)
        return Response(s.VersionSerializer(selectors.case_versions(case=case), many=True).data)

    @extend_schema(
        request=s.VersionSignOffSerializer,
        responses={
            201: s.VersionDetailSerializer,
            403: OpenApiResponse(
                description=(
                    "Only the case's independent reviewers sign off: never an owner or author "
                    "of the case or its project, nor anyone who edited its argument, superuser "
                    "or not."
                )
            ),
            409: OpenApiResponse(
                description="An approving verdict while GSN rule errors or open challenges exist."
            ),
        },
        description=(
            "Sign off the case as it is now with a verdict: an immutable version whose content "
            "(snapshot, verdict, conditions, open items, note, signer, time, previous hash) is "
            "hashed, chained to the previous version and signed with the server's Ed25519 key. "
            "The project's `required_signatures` reviewers must sign it (co-signing is in the "
            "web UI)."
        ),
    )
    def post(self, request, case_id: int):
        case = selectors.case_for_user(user=request.user, case_id=case_id)
        data = _valid(s.VersionSignOffSerializer, request.data)
        version = services.version_sign_off(
            actor=request.user,
            case=case,
            note=data["note"],
            verdict=data["verdict"],
            reasons=data["reasons"],
            conditions=data["conditions"],
        )
        version = selectors.version_for_case(case=case, number=version.number)
        return Response(s.VersionDetailSerializer(version).data, status=status.HTTP_201_CREATED)


class VersionDetailApi(APIView):
    @extend_schema(
        responses=s.VersionDetailSerializer,
        description="One version with its snapshot.",
    )
    def get(self, request, case_id: int, number: int):
        case = selectors.case_for_user(user=request.user, case_id=case_id)
        version = selectors.version_for_case(case=case, number=number)
        return Response(s.VersionDetailSerializer(version).data)


class VersionDiffApi(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("a", int, required=True, description="The earlier version number."),
            OpenApiParameter("b", int, required=True, description="The later version number."),
        ],
        responses=s.VersionDiffSerializer,
        description=(
            "What changed from version `a` to version `b`: nodes added, removed and changed "
            "(statement, type, undeveloped), status changes, new or cleared flags, and the "
            "links, bindings (with their policies), runs counted as evidence, attestations, "
            "challenges and sign-off conditions added, removed or changed."
        ),
    )
    def get(self, request, case_id: int):
        case = selectors.case_for_user(user=request.user, case_id=case_id)
        try:
            a, b = int(request.query_params["a"]), int(request.query_params["b"])
        except (KeyError, ValueError):
            return Response(
                {"detail": "Give two version numbers as ?a=…&b=…."},
                status=status.HTTP_400_BAD_REQUEST,
            )
        diff = diff_snapshots(
            selectors.version_as_compared(selectors.version_for_case(case=case, number=a)),
            selectors.version_as_compared(selectors.version_for_case(case=case, number=b)),
        )
        return Response(s.VersionDiffSerializer({"a": a, "b": b, **diff}).data)


# ---------------------------------------------------------------------------------------------
# Review: comments (authors and reviewers) and challenges (reviewers) on nodes.


class NodeCommentsApi(APIView):
    @extend_schema(responses=s.CommentSerializer(many=True), description="A node's comments.")
    def get(self, request, case_id: int, identifier: str):
        node = _case_node(request, case_id, identifier)
        return Response(s.CommentSerializer(selectors.node_comments(node=node), many=True).data)

    @extend_schema(
        request=s.CommentCreateSerializer,
        responses={201: s.CommentSerializer},
        description="Comment on a node (authors and reviewers).",
    )
    def post(self, request, case_id: int, identifier: str):
        node = _case_node(request, case_id, identifier)
        data = _valid(s.CommentCreateSerializer, request.data)
        comment = services.comment_create(actor=request.user, node=node, text=data["text"])
        return Response(s.CommentSerializer(comment).data, status=status.HTTP_201_CREATED)


class NodeChallengesApi(APIView):
    @extend_schema(
        responses=s.ChallengeSerializer(many=True),
        description="A node's challenges, newest first; open ones count as `challenge` flags.",
    )
    def get(self, request, case_id: int, identifier: str):
        node = _case_node(request, case_id, identifier)
        return Response(s.ChallengeSerializer(selectors.node_challenges(node=node), many=True).data)

    @extend_schema(
        request=s.ChallengeCreateSerializer,
        responses={201: s.ChallengeSerializer},
        description="Challenge a node with a counter-claim (reviewers).",
    )
    def post(self, request, case_id: int, identifier: str):
        node = _case_node(request, case_id, identifier)
        data = _valid(s.ChallengeCreateSerializer, request.data)
        challenge = services.challenge_create(actor=request.user, node=node, claim=data["claim"])
        return Response(s.ChallengeSerializer(challenge).data, status=status.HTTP_201_CREATED)


class ChallengeResolveApi(APIView):
    @extend_schema(
        request=s.ChallengeResolveSerializer,
        responses={200: s.ChallengeSerializer, 409: OpenApiResponse(description="Resolved.")},
        description=(
            "Close an open challenge with a note: the reviewer who raised it or another "
            "independent reviewer (never an author of the case, superuser or not)."
        ),
    )
    def post(self, request, case_id: int, challenge_id: int):
        case = selectors.case_for_user(user=request.user, case_id=case_id)
        challenge = selectors.challenge_for_case(case=case, challenge_id=challenge_id)
        data = _valid(s.ChallengeResolveSerializer, request.data)
        challenge = services.challenge_resolve(
            actor=request.user, challenge=challenge, resolution=data["resolution"]
        )
        return Response(s.ChallengeSerializer(challenge).data)


class ChallengeRespondApi(APIView):
    @extend_schema(
        request=s.ChallengeRespondSerializer,
        responses={200: s.ChallengeSerializer, 409: OpenApiResponse(description="Resolved.")},
        description="The case's authors answer an open challenge; a reviewer then closes it.",
    )
    def post(self, request, case_id: int, challenge_id: int):
        case = selectors.case_for_user(user=request.user, case_id=case_id)
        challenge = selectors.challenge_for_case(case=case, challenge_id=challenge_id)
        data = _valid(s.ChallengeRespondSerializer, request.data)
        challenge = services.challenge_respond(
            actor=request.user, challenge=challenge, response=data["response"]
        )
        return Response(s.ChallengeSerializer(challenge).data)


class ChallengeRejectResponseApi(APIView):
    @extend_schema(
        request=s.ChallengeRejectResponseSerializer,
        responses={200: s.ChallengeSerializer, 409: OpenApiResponse(description="No response.")},
        description=(
            "The challenger or another reviewer does not accept the authors' response; the "
            "challenge stays open with the reason."
        ),
    )
    def post(self, request, case_id: int, challenge_id: int):
        case = selectors.case_for_user(user=request.user, case_id=case_id)
        challenge = selectors.challenge_for_case(case=case, challenge_id=challenge_id)
        data = _valid(s.ChallengeRejectResponseSerializer, request.data)
        challenge = services.challenge_reject_response(
            actor=request.user, challenge=challenge, reason=data["reason"]
        )
        return Response(s.ChallengeSerializer(challenge).data)
