"""Celery application: Redis broker/results from settings (CELERY_* keys), tasks per app."""

import os

from celery import Celery

from apps.pg import rowscope

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dataplatform.settings.dev")
# Jobs see every project; a task run inside a request (eager) keeps that request's scope.
rowscope.set_process_default(rowscope.EVERY_ROW)

app = Celery("dataplatform")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
