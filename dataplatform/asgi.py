import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dataplatform.settings.prod")
application = get_asgi_application()

from apps.pg import rowscope  # noqa: E402  (needs the app registry loaded above)

# A web process sees no project-bound row outside a request's scope (fail closed).
rowscope.set_process_default(rowscope.NO_ROWS)
