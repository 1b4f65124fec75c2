"""django.contrib.admin with Flowbase's site as `admin.site` (INSTALLED_APPS names this class)."""

from django.contrib.admin.apps import AdminConfig


class FlowbaseAdminConfig(AdminConfig):
    default = False
    default_site = "apps.core.admin.site.FlowbaseAdminSite"
