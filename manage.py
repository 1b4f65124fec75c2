#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dataplatform.settings.dev")
    from django.core.management import execute_from_command_line

    from apps.pg import rowscope

    # Commands see every project (runserver's WSGI handler puts its process back to none).
    rowscope.set_process_default(rowscope.EVERY_ROW)

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
