"""REST API of watches, the inbox and project webhooks. Thin: services and selectors work."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from evidence import projects
from notifications import selectors, services
from notifications.models import Notification, Webhook, WebhookDelivery
from safetycase import selectors as case_selectors
from safetycase.errors import NotFound


class NotificationSerializer(serializers.ModelSerializer):
    case = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)

    class Meta:
        model = Notification
        fields = ["id", "kind", "case", "message", "url", "created_at", "read_at"]


class MarkReadSerializer(serializers.Serializer):
    ids = serializers.ListField(
        child=serializers.IntegerField(),
        required=False,
        allow_null=True,
        default=None,
        help_text="Notifications to mark read; all unread ones when left out.",
    )


class MarkedSerializer(serializers.Serializer):
    marked = serializers.IntegerField()


class WatchSerializer(serializers.Serializer):
    node = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=200,
        help_text="A node identifier; empty or left out for the whole case.",
    )


class WatchesSerializer(serializers.Serializer):
    watching = serializers.ListField(
        child=serializers.CharField(allow_blank=True),
        help_text='What you watch of the case: node identifiers, "" for the whole case.',
    )


class WebhookSerializer(serializers.ModelSerializer):
    class Meta:
        model = Webhook
        fields = ["id", "url", "active", "created_at"]


class WebhookCreatedSerializer(serializers.ModelSerializer):
    secret = serializers.CharField(
        help_text="The HMAC-SHA256 key of the X-Safetycase-Signature-256 header. Shown only "
        "now: keep it where the receiver can check signatures."
    )

    class Meta:
        model = Webhook
        fields = ["id", "url", "active", "created_at", "secret"]


class WebhookCreateSerializer(serializers.Serializer):
    url = serializers.URLField(max_length=500)


class DeliverySerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "kind",
            "state",
            "attempts",
            "last_status_code",
            "last_error",
            "next_attempt_at",
            "delivered_at",
            "created_at",
            "payload",
        ]


def _valid(serializer_class, data) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _owned_project(request, project_id: int):
    try:
        return projects.project_for_user(user=request.user, project_id=project_id)
    except projects.ProjectRefused as exc:
        raise NotFound(exc.message) from exc


@extend_schema(
    parameters=[OpenApiParameter("unread", bool, description="Only unread notifications.")],
    description="Your inbox, newest first: status changes of what you watch, runs that "
    "failed to ingest, challenges, comments, expiring attestations and sign-offs.",
)
class NotificationListApi(generics.ListAPIView):
    serializer_class = NotificationSerializer
    queryset = Notification.objects.none()  # for the schema; get_queryset scopes it

    def get_queryset(self):
        unread = self.request.query_params.get("unread") in ("1", "true", "yes")
        return selectors.inbox(user=self.request.user, unread_only=unread)


class NotificationsReadApi(APIView):
    @extend_schema(
        request=MarkReadSerializer,
        responses=MarkedSerializer,
        description="Mark notifications read (all of yours when `ids` is left out).",
    )
    def post(self, request):
        data = _valid(MarkReadSerializer, request.data)
        marked = services.notifications_mark_read(actor=request.user, ids=data["ids"])
        return Response({"marked": marked})


class CaseWatchApi(APIView):
    @extend_schema(responses=WatchesSerializer, description="What you watch of this case.")
    def get(self, request, case_id: int):
        case = case_selectors.case_for_user(user=request.user, case_id=case_id)
        watching = sorted(selectors.watched_subjects(user=request.user, case=case))
        return Response({"watching": watching})

    @extend_schema(
        request=WatchSerializer,
        responses={200: WatchesSerializer, 400: OpenApiResponse(description="Unknown node.")},
        description="Watch the case or one of its nodes: its status changes, challenges, "
        "comments, expiring attestations and sign-offs reach your inbox and e-mail.",
    )
    def post(self, request, case_id: int):
        case = case_selectors.case_for_user(user=request.user, case_id=case_id)
        data = _valid(WatchSerializer, request.data)
        services.watch(actor=request.user, case=case, node_identifier=data["node"])
        return Response(
            {"watching": sorted(selectors.watched_subjects(user=request.user, case=case))}
        )

    @extend_schema(
        request=WatchSerializer,
        responses=WatchesSerializer,
        description="Stop watching the case or one of its nodes.",
    )
    def delete(self, request, case_id: int):
        case = case_selectors.case_for_user(user=request.user, case_id=case_id)
        data = _valid(WatchSerializer, request.data)
        services.unwatch(actor=request.user, case=case, node_identifier=data["node"])
        return Response(
            {"watching": sorted(selectors.watched_subjects(user=request.user, case=case))}
        )


class ProjectWebhooksApi(APIView):
    @extend_schema(
        responses={
            200: WebhookSerializer(many=True),
            404: OpenApiResponse(description="Not a member."),
        },
        description="The project's webhooks (owners manage them).",
    )
    def get(self, request, project_id: int):
        project = _owned_project(request, project_id)
        return Response(
            WebhookSerializer(selectors.project_webhooks(project=project), many=True).data
        )

    @extend_schema(
        request=WebhookCreateSerializer,
        responses={
            201: WebhookCreatedSerializer,
            403: OpenApiResponse(description="Not an owner of the project."),
        },
        description="Send every event of the project's cases and runs to a URL: a JSON body "
        "signed with HMAC-SHA256 in `X-Safetycase-Signature-256: sha256=<hex>` (the event "
        "kind in `X-Safetycase-Event`), retried with back-off for up to six attempts.",
    )
    def post(self, request, project_id: int):
        project = _owned_project(request, project_id)
        data = _valid(WebhookCreateSerializer, request.data)
        hook = services.webhook_create(actor=request.user, project=project, url=data["url"])
        return Response(WebhookCreatedSerializer(hook).data, status=status.HTTP_201_CREATED)


def _webhook(request, project_id: int, webhook_id: int) -> Webhook:
    project = _owned_project(request, project_id)
    hook = selectors.project_webhooks(project=project).filter(pk=webhook_id).first()
    if hook is None:
        raise NotFound("The project has no such webhook.")
    return hook


class WebhookDetailApi(APIView):
    @extend_schema(
        responses={204: None, 403: OpenApiResponse(description="Not an owner of the project.")},
        description="Remove a webhook (owners).",
    )
    def delete(self, request, project_id: int, webhook_id: int):
        services.webhook_delete(
            actor=request.user, webhook=_webhook(request, project_id, webhook_id)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(
    description="The webhook's delivery log, newest first: each event, its attempts and the "
    "receiver's last answer.",
)
class WebhookDeliveriesApi(generics.ListAPIView):
    serializer_class = DeliverySerializer
    queryset = WebhookDelivery.objects.none()  # for the schema; get_queryset scopes it

    def get_queryset(self):
        hook = _webhook(self.request, self.kwargs["project_id"], self.kwargs["webhook_id"])
        return selectors.webhook_deliveries(webhook=hook)
