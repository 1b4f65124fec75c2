"""The Docker image and compose file, read (there is no Docker engine on the development
machines): the facts they promise, and WhiteNoise serving the collected static files."""

from __future__ import annotations

import ast
import configparser
import gzip
import io
import re
import shlex
from pathlib import Path
from wsgiref.util import setup_testing_defaults

import pytest
import yaml
from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.core.management import call_command
from django.test import override_settings

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
APP_SERVICES = ("migrate", "web", "worker", "maintenance-worker", "beat")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())


def _instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per Dockerfile instruction, continuation lines joined."""
    text = re.sub(r"\\\n", " ", path.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def _settings_env_names() -> set[str]:
    """Every NAME read as env("NAME"), env.bool("NAME", …) etc. in dataplatform/settings, plus
    the names held in tuples the settings loop over with env(_name)."""
    names: set[str] = set()
    for path in (ROOT / "dataplatform" / "settings").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            func = node.func
            is_env = (isinstance(func, ast.Name) and func.id == "env") or (
                isinstance(func, ast.Attribute)
                and isinstance(func.value, ast.Name)
                and func.value.id == "env"
            )
            first = node.args[0]
            if is_env and isinstance(first, ast.Constant) and isinstance(first.value, str):
                names.add(first.value)
    return names


def _service_env(compose: dict, name: str) -> dict:
    return compose["services"][name].get("environment") or {}


def test_compose_has_every_service_and_a_one_shot_migrate(compose):
    services = compose["services"]
    assert {"postgres", "redis", "web", "worker", "beat", "migrate"} <= set(services)
    migrate = services["migrate"]
    assert migrate["restart"] == "no"
    assert "migrate --database owner" in migrate["command"][-1]
    # Nothing that runs the app starts before the schema is there.
    for name in ("web", "worker", "beat", "maintenance-worker"):
        assert services[name]["depends_on"]["migrate"]["condition"] == (
            "service_completed_successfully"
        ), name
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["migrate"]["depends_on"]["redis"]["condition"] == "service_healthy"
    # Exactly one beat: django-celery-beat has no leader election.
    assert "deploy" not in services["beat"]
    assert services["beat"]["command"][:4] == ["celery", "-A", "dataplatform", "beat"]


def test_compose_healthchecks(compose):
    services = compose["services"]
    for name in ("postgres", "redis", "web", "worker", "maintenance-worker"):
        check = services[name].get("healthcheck")
        assert check and check["test"][0] in {"CMD", "CMD-SHELL"}, name
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert services["redis"]["healthcheck"]["test"][1:] == ["redis-cli", "ping"]
    assert "/healthz" in " ".join(services["web"]["healthcheck"]["test"])
    assert "inspect ping" in " ".join(services["worker"]["healthcheck"]["test"])


def test_postgres_preloads_pg_stat_statements_and_has_hypopg_and_rum(compose):
    postgres = compose["services"]["postgres"]
    command = postgres["command"]
    assert "shared_preload_libraries=pg_stat_statements" in command
    build = postgres["build"]
    dockerfile = DOCKER / build["context"] / build["dockerfile"]
    steps = _instructions(dockerfile)
    assert steps[0] == ("FROM", "postgres:15")
    installs = " ".join(args for word, args in steps if word == "RUN")
    assert "postgresql-15-hypopg" in installs and "postgresql-15-rum" in installs
    # The roles of the security design are created at first start, as the superuser.
    mounts = postgres["volumes"]
    assert "./initdb:/docker-entrypoint-initdb.d:ro" in mounts
    script = (DOCKER / "initdb" / "10-flowbase-roles.sh").read_text()
    for env_name in _service_env({"services": {"p": postgres}}, "p"):
        if env_name.startswith("FLOWBASE_"):
            assert env_name in script, env_name


def test_every_env_name_the_app_services_pass_is_read_by_the_settings(compose):
    known = _settings_env_names()
    assert {"DATABASE_URL", "SECRET_KEY", "REDIS_URL", "BACKUP_DIR"} <= known  # the parser works
    for name in APP_SERVICES:
        passed = set(_service_env(compose, name))
        assert passed, name
        assert passed <= known, f"{name}: not read by the settings: {sorted(passed - known)}"
    # Owner credentials only where the owner's work runs.
    for name in ("web", "worker", "beat"):
        env = _service_env(compose, name)
        assert "MIGRATE_DATABASE_URL" not in env and "MAINTENANCE_DATABASE_URL" not in env, name


def _host_port(url: str) -> tuple[str, int]:
    match = re.search(r"@([^@:/]+):(\d+)/", url)
    assert match, url
    return match[1], int(match[2])


def _pgbouncer_ini() -> configparser.ConfigParser:
    ini = configparser.ConfigParser(interpolation=None, comment_prefixes=(";", "#"))
    ini.read_string((DOCKER / "pgbouncer" / "pgbouncer.ini").read_text())
    return ini


def test_pgbouncer_in_transaction_mode_from_debians_package_in_front_of_postgres(compose):
    service = compose["services"]["pgbouncer"]
    build = service["build"]
    steps = _instructions(DOCKER / build["context"] / build["dockerfile"])
    assert steps[0][0] == "FROM" and steps[0][1].startswith("debian:")
    installs = [args for word, args in steps if word == "RUN" and "apt-get install" in args]
    assert installs and "pgbouncer" in shlex.split(installs[0])
    assert ("USER", "root") not in steps and any(word == "USER" for word, _ in steps)
    ini = _pgbouncer_ini()
    assert ini["pgbouncer"]["pool_mode"] == "transaction"
    target = dict(pair.split("=", 1) for pair in shlex.split(ini["databases"]["flowbase"])[:3])
    assert target == {"host": "postgres", "port": "5432", "dbname": "flowbase"}
    assert service["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert service["healthcheck"]["test"][0] in {"CMD", "CMD-SHELL"}
    # Its auth file holds the app's login, from the password the service is given.
    assert "flowbase_app" in (DOCKER / "pgbouncer" / "entrypoint.sh").read_text()
    assert "FLOWBASE_APP_PASSWORD" in _service_env(compose, "pgbouncer")


def test_app_login_goes_through_pgbouncer_and_the_owner_directly(compose):
    bouncer = ("pgbouncer", int(_pgbouncer_ini()["pgbouncer"]["listen_port"]))
    postgres = ("postgres", 5432)
    for name in APP_SERVICES:
        env = _service_env(compose, name)
        assert _host_port(env["DATABASE_URL"]) == bouncer, f"{name} bypasses PgBouncer"
        # The settings that keep session state off a transaction-pooled connection.
        assert env["DB_PGBOUNCER"] == "true", name
        for direct in ("MIGRATE_DATABASE_URL", "MAINTENANCE_DATABASE_URL"):
            if direct in env:  # DDL, advisory session locks, COPY of backups: one session
                assert _host_port(env[direct]) == postgres, f"{name}: {direct}"
        for direct in ("READONLY_DATABASE_URL", "MONITOR_DATABASE_URL"):
            assert _host_port(env[direct]) == postgres, f"{name}: {direct}"
    # Every app service starts after migrate, which waits for a healthy PgBouncer.
    migrate = compose["services"]["migrate"]
    assert migrate["depends_on"]["pgbouncer"]["condition"] == "service_healthy"


def test_image_installs_the_pinned_prod_requirements_and_collects_static():
    steps = _instructions(DOCKER / "Dockerfile")
    assert steps[0][0] == "FROM" and steps[0][1].startswith("python:3.11")
    env = " ".join(args for word, args in steps if word == "ENV")
    assert "DJANGO_SETTINGS_MODULE=dataplatform.settings.prod" in env
    runs = [args for word, args in steps if word == "RUN"]
    assert "pip install -r requirements/prod.txt" in runs
    assert any("postgresql-client-15" in run for run in runs)  # pg_dump for the backups
    collect = [i for i, (word, args) in enumerate(steps) if "collectstatic" in args]
    assert len(collect) == 1 and steps[collect[0]][0] == "RUN"
    copied = {shlex.split(args)[0] for word, args in steps[: collect[0]] if word == "COPY"}
    assert {"apps/", "dataplatform/", "templates/", "manage.py"} <= copied
    cmd = next(args for word, args in steps if word == "CMD")
    assert "gunicorn" in cmd and "dataplatform.wsgi:application" in cmd
    prod_requirements = (ROOT / "requirements" / "prod.txt").read_text()
    assert re.search(r"^whitenoise==", prod_requirements, re.M)
    assert re.search(r"^gunicorn==", prod_requirements, re.M)


def test_middleware_serves_static_before_sessions_and_auth():
    middleware = settings.MIDDLEWARE
    whitenoise = middleware.index("whitenoise.middleware.WhiteNoiseMiddleware")
    assert whitenoise == middleware.index("django.middleware.security.SecurityMiddleware") + 1
    assert whitenoise < middleware.index("django.contrib.sessions.middleware.SessionMiddleware")


def _prod_storages() -> dict:
    """STORAGES as the prod settings define it (read, not imported: importing prod needs the
    production environment)."""
    tree = ast.parse((ROOT / "dataplatform" / "settings" / "prod.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "STORAGES":
            return ast.literal_eval(node.value)
    raise AssertionError("prod settings define no STORAGES")


def _get(app, path: str) -> tuple[str, dict, bytes]:
    environ: dict = {"PATH_INFO": path, "HTTP_HOST": "localhost", "HTTP_ACCEPT_ENCODING": "gzip"}
    setup_testing_defaults(environ)
    environ["wsgi.input"] = io.BytesIO()
    seen: dict = {}

    def start_response(status, headers, exc_info=None):
        seen["status"], seen["headers"] = status, dict(headers)

    body = b"".join(app(environ, start_response))
    return seen["status"], seen["headers"], body


def test_collectstatic_with_prod_storage_and_whitenoise_serves_admin_css(tmp_path):
    storages = _prod_storages()
    assert storages["staticfiles"]["BACKEND"] == (
        "whitenoise.storage.CompressedManifestStaticFilesStorage"
    )
    with override_settings(STATIC_ROOT=tmp_path, STORAGES=storages, DEBUG=False):
        call_command("collectstatic", "--no-input", verbosity=0)
        manifest = (tmp_path / "staticfiles.json").read_text()
        assert '"admin/css/base.css"' in manifest
        assert (tmp_path / "admin" / "css" / "base.css.gz").exists()
        app = WSGIHandler()  # middleware built now: WhiteNoise indexes tmp_path
        status, headers, body = _get(app, "/static/admin/css/base.css")
        assert status.startswith("200"), status
        assert headers["Content-Type"].startswith("text/css")
        assert headers.get("Content-Encoding") == "gzip"
        source = (tmp_path / "admin" / "css" / "base.css").read_bytes()
        assert gzip.decompress(body) == source
        from django.contrib.staticfiles.storage import staticfiles_storage

        hashed = staticfiles_storage.url("admin/css/base.css")
        assert re.search(r"base\.[0-9a-f]{12}\.css$", hashed), hashed
        status, headers, _ = _get(app, "/" + hashed.lstrip("/"))
        assert status.startswith("200")
        assert "immutable" in headers["Cache-Control"]  # hashed names are cached for ever
        status, _, _ = _get(app, "/static/admin/css/no-such-file.css")
        assert status.startswith("404")
