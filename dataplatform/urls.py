from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("", include("apps.dbhealth.urls")),
    path("admin/", admin.site.urls),
    path("", include("django_prometheus.urls")),
]
