"""retry_on_serialization_failure: re-runs a whole transaction refused with 40001/40P01, bounded."""

import psycopg
import pytest
from django.db import IntegrityError, OperationalError, connection, transaction

from apps.pg import retry as db
from apps.pg.errors import sqlstate
from apps.pg.retry import retry_on_serialization_failure
from apps.projects.models import Project
from tests.factories.domain import ProjectFactory

pytestmark = pytest.mark.django_db(transaction=True)


def refusal(kind: type[psycopg.Error]) -> OperationalError:
    """What Django raises for a psycopg error: its own class, the driver's error as cause."""
    error = OperationalError("could not serialize access due to concurrent update")
    error.__cause__ = kind("could not serialize access due to concurrent update")
    return error


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch):
    monkeypatch.setattr(db, "BACKOFF_BASE_S", 0)


def test_sqlstate_reads_the_driver_error():
    assert sqlstate(refusal(psycopg.errors.SerializationFailure)) == "40001"
    assert sqlstate(refusal(psycopg.errors.DeadlockDetected)) == "40P01"
    assert sqlstate(ValueError()) is None


@pytest.mark.parametrize(
    "kind", [psycopg.errors.SerializationFailure, psycopg.errors.DeadlockDetected]
)
def test_a_refused_transaction_runs_again_in_a_new_transaction(kind):
    calls: list[bool] = []

    @retry_on_serialization_failure(attempts=3)
    def write() -> str:
        calls.append(connection.in_atomic_block)
        with connection.cursor() as cursor:
            cursor.execute("SELECT txid_current()")
            calls.append(cursor.fetchone()[0])
        if len(calls) < 4:
            raise refusal(kind)
        return "done"

    assert write() == "done"
    assert calls[0] is True and calls[2] is True  # each attempt inside its own atomic block
    assert calls[1] != calls[3]  # the second attempt is another transaction


def test_attempts_are_bounded_by_the_setting_then_the_error_propagates(settings):
    settings.DB_SERIALIZATION_RETRY_ATTEMPTS = 3
    calls = []

    @retry_on_serialization_failure
    def write() -> None:
        calls.append(1)
        raise refusal(psycopg.errors.SerializationFailure)

    with pytest.raises(OperationalError) as info:
        write()
    assert len(calls) == 3
    assert sqlstate(info.value) == "40001"


def test_other_errors_are_not_retried():
    calls = []

    @retry_on_serialization_failure(attempts=5)
    def write() -> None:
        calls.append(1)
        raise IntegrityError("duplicate key")

    with pytest.raises(IntegrityError):
        write()
    assert calls == [1]


def test_inside_an_outer_transaction_it_runs_once_and_leaves_the_retry_to_the_caller():
    calls = []

    @retry_on_serialization_failure(attempts=5)
    def write() -> None:
        calls.append(1)
        raise refusal(psycopg.errors.SerializationFailure)

    with pytest.raises(OperationalError), transaction.atomic():
        write()
    assert calls == [1]


def test_writes_of_a_refused_attempt_are_rolled_back():
    attempts = []

    @retry_on_serialization_failure(attempts=2)
    def write() -> None:
        attempts.append(ProjectFactory(name=f"attempt {len(attempts) + 1}").pk)
        if len(attempts) == 1:
            raise refusal(psycopg.errors.SerializationFailure)

    write()
    assert list(Project.objects.filter(pk__in=attempts).values_list("name", flat=True)) == [
        "attempt 2"
    ]
