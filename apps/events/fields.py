"""Moved to apps/pg/partitioning/fields.py; re-exported because the events, runs and audit
migrations import `apps.events.fields`."""

from apps.pg.partitioning.fields import BigIdentityField, TransactionNow  # noqa: F401
