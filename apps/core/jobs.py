"""What every Flowbase Celery task shares."""

from django.db import InterfaceError, OperationalError

# Transient database errors (lock timeouts, lost connections) are retried with backoff; a job is
# acknowledged only once it ran, so one a dead worker held is delivered again.
RETRYING = {
    "autoretry_for": (OperationalError, InterfaceError),
    "retry_backoff": 10,
    "retry_backoff_max": 300,
    "retry_jitter": True,
    "max_retries": 5,
    "acks_late": True,
    "reject_on_worker_lost": True,  # a killed child: the master requeues its job at once
}
