import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from apps.blueprints.models import Template
from apps.blueprints.services import template_get, template_record_use, template_save

pytestmark = pytest.mark.django_db

CONTENT = {"structure": {"component": "const ${ComponentName} = () => {}"}}


def test_template_save_creates_then_updates_same_version():
    created = template_save(
        name="react-component", type="code_pattern", content=CONTENT, tags=["react"]
    )
    updated = template_save(
        name="react-component", type="code_pattern", content={"v": 2}, category="react"
    )
    assert created.pk == updated.pk
    assert Template.objects.get().content == {"v": 2}


def test_template_get_returns_named_or_newest_active_version():
    template_save(name="t", type="test", content={}, version="1.0.0")
    newest = template_save(name="t", type="test", content={}, version="1.1.0")
    template_save(name="t", type="test", content={}, version="2.0.0-beta", is_active=False)
    assert template_get(name="t", type="test") == newest
    assert template_get(name="t", type="test", version="1.0.0").version == "1.0.0"
    with pytest.raises(Template.DoesNotExist, match="No template 'nope'"):
        template_get(name="nope", type="test")


def test_template_save_bad_input_writes_nothing():
    with pytest.raises(ValidationError, match="type"):
        template_save(name="t", type="poem", content={})
    with pytest.raises(ValidationError, match="JSON object"):
        template_save(name="t", type="test", content=["not", "a", "dict"])
    assert not Template.objects.exists()


def test_template_record_use_counts_outcomes_and_derives_success_rate():
    template = template_save(name="t", type="test", content={})
    template_record_use(template_id=template.pk, succeeded=True)
    template_record_use(template_id=template.pk, succeeded=True)
    template_record_use(template_id=template.pk, succeeded=False)
    template_record_use(template_id=template.pk)
    template.refresh_from_db()
    assert (template.usage_count, template.success_count, template.failure_count) == (4, 2, 1)
    assert template.success_rate == pytest.approx(66.67)
    assert template.last_used_at is not None
    with pytest.raises(Template.DoesNotExist):
        template_record_use(template_id=0)


@pytest.mark.django_db(transaction=True)
def test_template_record_use_loses_no_count_under_concurrency():
    template = template_save(name="t", type="test", content={})

    def use_many() -> None:
        try:
            for _ in range(25):
                template_record_use(template_id=template.pk, succeeded=True)
        finally:
            connection.close()

    threads = [threading.Thread(target=use_many) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    template.refresh_from_db()
    assert (template.usage_count, template.success_count) == (100, 100)
