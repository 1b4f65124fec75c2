from django.apps import AppConfig


class FilestoreConfig(AppConfig):
    name = "apps.filestore"
    label = "filestore"
    verbose_name = "Legacy file store"
