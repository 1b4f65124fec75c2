"""The project's local-services script (`.make/local.sh`) run from a test, as the Makefile runs it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / ".make" / "local.sh"


def local_sh(command: str, *, mode: str, timeout: float | None = None) -> None:
    """`local.sh COMMAND` with FLOWBASE_<MODE>=1 (e.g. REPLICA, HA). The URLs `make env` set are
    dropped: the script refuses to start local services while a DATABASE_URL is given."""
    env = {k: v for k, v in os.environ.items() if not k.endswith("DATABASE_URL")}
    env[f"FLOWBASE_{mode}"] = "1"
    subprocess.run(
        ["bash", str(SCRIPT), command],
        check=True,
        env=env,
        timeout=timeout,
        stdout=subprocess.DEVNULL,
    )
