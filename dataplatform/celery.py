"""Celery application: Redis broker/results from settings (CELERY_* keys), tasks per app."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dataplatform.settings.dev")

app = Celery("dataplatform")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
