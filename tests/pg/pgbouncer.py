"""Tests that need one server session for their connection, skipped by `make test-pgbouncer`.

Through PgBouncer in transaction mode a client has no backend of its own: the pid psycopg
reports is PgBouncer's (a random cancel key, not a PostgreSQL pid), and `pg_backend_pid()` can
change between two transactions. So a test that finds, signals or kills *its own* backend, or
waits until one is blocked by pid, cannot run there; nor can a test that keeps state in the
session (it would leak to other clients' transactions). The direct pass (`make test`) runs them.
Mark a new one `@pytest.mark.direct_db("why")`, or list it here when its file is someone else's.
"""

OWN_PID = "finds, signals or kills its own backend by the pid its connection reports"
WAITS_BY_PID = "waits until a backend, known by the pid its connection reports, is blocked"
SESSION_SETTING = (
    "sets its isolation level per session (SET SESSION CHARACTERISTICS), which PgBouncer would "
    "leave on a server connection that other clients get next"
)

LATE_COUNTERS = (
    "reads table statistics counters that a pooled server connection reports late (a backend "
    "flushes them at most once a second, when idle), so a planted view looks refreshed"
)

DIRECT_TESTS: dict[str, str] = {
    "tests/dbhealth/test_checks.py::"
    "test_idle_in_transaction_and_long_transactions_say_terminate": OWN_PID,
    "tests/dbhealth/test_conditions.py::test_stale_views_on_page_json_metrics_and_findings": (
        LATE_COUNTERS
    ),
    "tests/security/test_hostile_input.py::test_hostile_corpus_against_every_admin_url": OWN_PID,
    "tests/dbhealth/test_activity.py::test_blocking_chain_everywhere": WAITS_BY_PID,
    "tests/dbhealth/test_activity.py::test_cancel_then_terminate_with_confirmation_and_audit": (
        OWN_PID
    ),
    "tests/dbhealth/test_activity.py::"
    "test_own_app_connection_is_self_although_the_catalog_is_read_as_the_monitor": OWN_PID,
    "tests/filestore/test_faults.py::test_connection_lost_mid_copy_fails_that_file_only": OWN_PID,
    "tests/security/test_quality_sandbox.py::test_attack_custom_sql_terminates_a_backend": OWN_PID,
    "tests/security/test_subtask_project_rules.py::"
    "test_a_parent_moved_while_a_subtask_is_added_is_refused_after_the_wait": WAITS_BY_PID,
    "tests/security/test_dependency_races.py::"
    "test_second_writer_waits_for_the_first_then_sees_its_edge_or_fails": WAITS_BY_PID,
    "tests/security/test_roles.py::test_the_app_role_cannot_terminate_another_roles_backend": (
        OWN_PID
    ),
    "tests/security/test_roles.py::test_the_read_only_role_sees_no_other_sessions_query_text": (
        OWN_PID
    ),
    "tests/security/test_roles.py::test_the_signal_function_is_the_apps_alone": OWN_PID,
    "tests/security/test_roles.py::test_the_signal_function_refuses_the_owners_backend": OWN_PID,
    "tests/security/test_dependency_races.py::"
    "test_service_writers_commit_no_cycle_and_retry_serialization_failures": SESSION_SETTING,
    "tests/security/test_dependency_races.py::"
    "test_service_without_retries_surfaces_the_serialization_failure": SESSION_SETTING,
    "tests/security/test_dependency_races.py::"
    "test_importer_files_commit_no_cycle_and_retry_serialization_failures": SESSION_SETTING,
    "tests/tasks/test_triggers.py::"
    "test_two_transactions_adding_halves_of_a_cycle_cannot_both_commit": WAITS_BY_PID,
}
