from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from apps.core.endpoint_access import metrics_view

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("", include("apps.dbhealth.urls")),
    path("admin/", admin.site.urls),
    # django-prometheus' exporter, behind METRICS_TOKEN / METRICS_ALLOWED_IPS where required.
    path("metrics", metrics_view, name="prometheus-django-metrics"),
]
