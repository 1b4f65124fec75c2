"""Every admin and Database page carries the Content-Security-Policy: scripts and stylesheets
from our own origin only, no plugins, no framing."""

import pytest

from tests.dbhealth.conftest import page_url

# The Database pages read the catalog as the monitor role (and the quality page as read-only).
pytestmark = pytest.mark.django_db(databases=["default", "monitor", "readonly"])


def test_csp_header_on_admin_and_database_pages(admin_client):
    for path in ("/admin/", "/admin/tasks/task/", page_url("overview"), "/admin/login/"):
        policy = admin_client.get(path)["Content-Security-Policy"]
        directives = dict(
            (part.split()[0], part.split()[1:]) for part in policy.split(";") if part.strip()
        )
        assert directives["script-src"] == ["'self'"], policy
        assert directives["style-src"] == ["'self'"], policy
        assert directives["object-src"] == ["'none'"] and directives["frame-ancestors"] == [
            "'none'"
        ]
        assert "'unsafe-inline'" not in " ".join(directives["script-src"])
