"""Loopback load on the admin, with or without PgBouncer in front (docs/scaling.md).

    python bench/pgbouncer_load.py session                 # print a staff session key (Django)
    python bench/pgbouncer_load.py load --base http://127.0.0.1:8011 --session KEY \\
        --admin-url postgres://postgres@127.0.0.1:54342/flowbase [--concurrency 100]

`load` starts `concurrency` clients at once, each requesting `--path` `--per-client` times
(bounded: concurrency x per-client requests in all), samples the server's client backends of the
app's login every 20 ms, and prints JSON: latency p50/p95/max, errors, peak server connections.
Only the standard library and psycopg: the clients do not share the server's process.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import sys
import threading
import time
from urllib.parse import urlsplit

SERVER_CONNECTIONS = """
SELECT count(*) FROM pg_stat_activity
WHERE datname = %s AND usename = %s AND backend_type = 'client backend'
"""


def make_session() -> str:
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dataplatform.settings.dev")
    import django

    django.setup()
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import (
        BACKEND_SESSION_KEY,
        HASH_SESSION_KEY,
        SESSION_KEY,
        get_user_model,
    )

    user = get_user_model().objects.filter(is_superuser=True, is_active=True).first()
    if user is None:
        raise SystemExit("no active superuser: run `manage.py ensure_admin` first")
    store = import_module(settings.SESSION_ENGINE).SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    return store.session_key


def _client(base, path, session, count, start, latencies, errors, lock):
    parts = urlsplit(base)
    start.wait()
    for _ in range(count):
        began = time.perf_counter()
        try:
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
            conn.request("GET", path, headers={"Cookie": f"sessionid={session}"})
            response = conn.getresponse()
            body = response.read()
            conn.close()
            ok = response.status == 200 and b"<html" in body[:2000].lower()
            error = None if ok else f"HTTP {response.status}"
        except OSError as exc:
            error = type(exc).__name__
        elapsed = time.perf_counter() - began
        with lock:
            latencies.append(elapsed)
            if error:
                errors.append(error)


def _sampler(admin_url, database, user, stop, peaks):
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        while not stop.is_set():
            peaks.append(conn.execute(SERVER_CONNECTIONS, [database, user]).fetchone()[0])
            time.sleep(0.02)


def _percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def load(args) -> dict:
    latencies: list[float] = []
    errors: list[str] = []
    peaks: list[int] = []
    lock = threading.Lock()
    start, stop = threading.Event(), threading.Event()
    sampler = threading.Thread(
        target=_sampler, args=(args.admin_url, args.database, args.user, stop, peaks), daemon=True
    )
    sampler.start()
    clients = [
        threading.Thread(
            target=_client,
            args=(
                args.base,
                args.path,
                args.session,
                args.per_client,
                start,
                latencies,
                errors,
                lock,
            ),
        )
        for _ in range(args.concurrency)
    ]
    for thread in clients:
        thread.start()
    time.sleep(0.5)  # every client connected and waiting: then all at once
    began = time.perf_counter()
    start.set()
    for thread in clients:
        thread.join()
    wall = time.perf_counter() - began
    stop.set()
    sampler.join()
    return {
        "path": args.path,
        "concurrency": args.concurrency,
        "requests": len(latencies),
        "errors": len(errors),
        "error_kinds": sorted(set(errors)),
        "p50_ms": round(statistics.median(latencies) * 1000),
        "p95_ms": round(_percentile(latencies, 0.95) * 1000),
        "max_ms": round(max(latencies) * 1000),
        "requests_per_s": round(len(latencies) / wall, 1),
        "peak_server_connections": max(peaks) if peaks else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("session")
    run = sub.add_parser("load")
    run.add_argument("--base", required=True)
    run.add_argument("--session", required=True)
    run.add_argument("--admin-url", required=True, help="a login that sees pg_stat_activity")
    run.add_argument("--path", default="/admin/tasks/task/")
    run.add_argument("--concurrency", type=int, default=100)
    run.add_argument("--per-client", type=int, default=3)
    run.add_argument("--database", default="flowbase")
    run.add_argument("--user", default="flowbase_app")
    args = parser.parse_args()
    if args.command == "session":
        print(make_session())
    else:
        print(json.dumps(load(args), indent=2))


if __name__ == "__main__":
    main()
