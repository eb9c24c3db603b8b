from django.urls import path

from evidence.api import projects, views

urlpatterns = [
    path("runs/", views.RunCollectionApi.as_view(), name="api_run_list"),
    path("runs/<int:pk>/", views.RunDetailApi.as_view(), name="api_run_detail"),
    path(
        "runs/<int:pk>/statistics/",
        views.RunStatisticsApi.as_view(),
        name="api_run_statistics",
    ),
    path("projects/", projects.ProjectListApi.as_view(), name="api_project_list"),
    path(
        "projects/<int:project_id>/",
        projects.ProjectDetailApi.as_view(),
        name="api_project_detail",
    ),
    path(
        "projects/<int:project_id>/members/",
        projects.ProjectMembersApi.as_view(),
        name="api_project_members",
    ),
    path(
        "projects/<int:project_id>/shares/",
        projects.ProjectSharesApi.as_view(),
        name="api_project_shares",
    ),
    path(
        "projects/<int:project_id>/shares/<int:share_id>/revoke/",
        projects.ShareRevokeApi.as_view(),
        name="api_project_share_revoke",
    ),
]
