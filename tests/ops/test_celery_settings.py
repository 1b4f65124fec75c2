"""Crash safety of the job settings: late acks, requeue on a lost worker, one message at a time,
and a visibility timeout longer than any job may run (else a running job is delivered twice)."""

from django.conf import settings

from dataplatform.celery import app


def ops_and_dbhealth_tasks():
    app.loader.import_default_modules()
    return {
        name: task
        for name, task in app.tasks.items()
        if name.startswith(("apps.ops.", "apps.dbhealth."))
    }


def test_every_job_ends_before_its_message_is_handed_to_another_worker():
    visibility = settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
    assert settings.CELERY_TASK_TIME_LIMIT < visibility <= settings.CELERY_TASK_TIME_LIMIT + 15 * 60
    jobs = ops_and_dbhealth_tasks()
    assert "apps.ops.tasks.archive_task" in jobs
    for name, task in jobs.items():
        limit = task.time_limit or app.conf.task_time_limit
        assert limit and limit <= settings.CELERY_TASK_TIME_LIMIT, name


def test_jobs_are_acknowledged_late_and_requeued_when_their_worker_dies():
    assert app.conf.worker_prefetch_multiplier == 1
    assert app.conf.task_acks_late and app.conf.task_reject_on_worker_lost
    for name, task in ops_and_dbhealth_tasks().items():
        assert task.acks_late, name
        assert task.reject_on_worker_lost in (None, True), name  # None: the app's (True)
