"""Production: same code, values from the environment; passes `manage.py check --deploy`."""

from .base import *

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env("SECRET_KEY")  # required: no default in production
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# The image serves its own static files (WhiteNoise): collectstatic writes hashed, compressed
# copies at build time, so every URL can be cached for ever and a missing file fails the build.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# Only the aliases this process was given credentials for: a web or ordinary worker without
# MIGRATE_DATABASE_URL / MAINTENANCE_DATABASE_URL has no owner connection at all.
_ALIAS_URLS = {
    "owner": ("MAINTENANCE_DATABASE_URL", "MIGRATE_DATABASE_URL"),
    "readonly": ("READONLY_DATABASE_URL",),
    "monitor": ("MONITOR_DATABASE_URL",),
}
for _alias, _names in _ALIAS_URLS.items():
    if not any(env(_name, default="") for _name in _names):
        DATABASES.pop(_alias)
# /metrics and the details of /readyz: bearer token or allow-listed address, never open.
METRICS_REQUIRE_AUTH = True
