import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dataplatform.settings.prod")
application = get_wsgi_application()

from apps.pg import rowscope  # noqa: E402  (needs the app registry loaded above)

# A web process sees no project-bound row outside a request's scope (fail closed).
rowscope.set_process_default(rowscope.NO_ROWS)
