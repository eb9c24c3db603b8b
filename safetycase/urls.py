from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from safetycase import views

urlpatterns = [
    path("", views.case_list, name="case_list"),
    path("cases/<int:case_id>/", views.case_detail, name="case_detail"),
    path("cases/<int:case_id>/nodes/<str:identifier>/", views.node_detail, name="node_detail"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("healthz", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("safetycase.api.urls")),
    path("api/v1/", include("evidence.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api_docs"),
]

# Reviewer UI: evaluation runs (provenance, statistics, samples, live ingestion, original log).
urlpatterns += [
    path("runs/<int:run_id>/", views.run_detail, name="run_detail"),
    path("runs/<int:run_id>/progress/", views.run_progress, name="run_progress"),
    path("runs/<int:run_id>/log", views.run_log, name="run_log"),
]

# PDF export: the case page's button, the export pages and the export API.
urlpatterns += [
    path("", include("safetycase.export.urls")),
    path("api/v1/", include("safetycase.api.export_urls")),
]
