"""The standby's lag sampled while a benchmark loads the primary (bench/replica_lag.py,
bench/import.py --replica-lag-tasks): the primary's pg_stat_replication (replay lag, bytes
behind) and, with a standby URL, the router's own probe on the standby, every 50 ms."""

import os
import sys
import threading
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from apps.pg.routing import PROBE_SQL

REPLICATION_SQL = (
    "SELECT coalesce(extract(epoch FROM replay_lag), 0)::float8,"
    " pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint"
    " FROM pg_stat_replication LIMIT 1"
)


def as_superuser(url: str) -> str:
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=f"postgres@{host}"))


def standby_urls() -> tuple[str, str] | None:
    """(primary as superuser, standby as superuser) from `make env`'s exports, or None without
    a standby. pg_stat_replication's lag columns are NULL for an unprivileged login."""
    replica_url = os.environ.get("REPLICA_DATABASE_URL")
    admin_url = os.environ.get("FLOWBASE_ADMIN_DATABASE_URL")
    if not replica_url or not admin_url:
        return None
    return admin_url, as_superuser(replica_url)


def p95(values: list[float]) -> float:
    return sorted(values)[max(int(len(values) * 0.95) - 1, 0)] if values else 0.0


class LagSampler:
    """`with LagSampler(primary_url, standby_url) as lag: <load>`; then lag.samples holds
    replay_lag (s), bytes (behind) and probe_lag (s, only with a standby URL)."""

    def __init__(self, primary_url: str, standby_url: str | None = None, interval: float = 0.05):
        self.primary_url, self.standby_url, self.interval = primary_url, standby_url, interval
        self.samples: dict[str, list[float]] = {"replay_lag": [], "bytes": [], "probe_lag": []}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._error: BaseException | None = None

    def _run(self) -> None:
        try:
            with psycopg.connect(self.primary_url, autocommit=True) as primary:
                standby = (
                    psycopg.connect(self.standby_url, autocommit=True) if self.standby_url else None
                )
                try:
                    while not self._stop.is_set():
                        row = primary.execute(REPLICATION_SQL).fetchone()
                        if row:
                            self.samples["replay_lag"].append(row[0])
                            self.samples["bytes"].append(row[1])
                        if standby is not None:
                            self.samples["probe_lag"].append(
                                standby.execute(PROBE_SQL).fetchone()[2]
                            )
                        self._stop.wait(self.interval)
                finally:
                    if standby is not None:
                        standby.close()
        except BaseException as exc:  # re-raised in the benchmark's thread on exit
            self._error = exc

    def __enter__(self) -> "LagSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        if self._error is not None and exc[0] is None:
            raise self._error

    def replay_line(self) -> str:
        lag, behind = self.samples["replay_lag"], self.samples["bytes"]
        if not lag:
            return "primary's replay_lag: no samples (no standby streaming?)"
        return (
            f"primary's replay_lag: max {max(lag):.2f} s, p95 {p95(lag):.2f} s;"
            f" bytes behind: max {max(behind) / 1e6:.1f} MB ({len(lag)} samples)"
        )

    def probe_line(self) -> str:
        lag = self.samples["probe_lag"]
        return (
            f"router's probe lag: max {max(lag, default=0):.2f} s, p95 {p95(lag):.2f} s"
            f" ({len(lag)} samples)"
        )
