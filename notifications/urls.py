from django.urls import path

from notifications import api, views

urlpatterns = [
    path("inbox/", views.inbox, name="inbox"),
    path("cases/<int:case_id>/watch/", views.watch_toggle, name="watch_toggle"),
    path("api/v1/notifications/", api.NotificationListApi.as_view(), name="api_notifications"),
    path(
        "api/v1/notifications/read/",
        api.NotificationsReadApi.as_view(),
        name="api_notifications_read",
    ),
    path("api/v1/cases/<int:case_id>/watch/", api.CaseWatchApi.as_view(), name="api_case_watch"),
    path(
        "api/v1/projects/<int:project_id>/webhooks/",
        api.ProjectWebhooksApi.as_view(),
        name="api_project_webhooks",
    ),
    path(
        "api/v1/projects/<int:project_id>/webhooks/<int:webhook_id>/",
        api.WebhookDetailApi.as_view(),
        name="api_project_webhook",
    ),
    path(
        "api/v1/projects/<int:project_id>/webhooks/<int:webhook_id>/deliveries/",
        api.WebhookDeliveriesApi.as_view(),
        name="api_project_webhook_deliveries",
    ),
]
