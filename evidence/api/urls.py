from django.urls import path

from evidence.api import views

urlpatterns = [
    path("runs/", views.RunCollectionApi.as_view(), name="api_run_list"),
    path("runs/<int:pk>/", views.RunDetailApi.as_view(), name="api_run_detail"),
    path(
        "runs/<int:pk>/statistics/",
        views.RunStatisticsApi.as_view(),
        name="api_run_statistics",
    ),
]
