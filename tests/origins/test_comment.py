from apps.origins import comment
from apps.origins.tally import Tally, shape


def test_comment_is_sqlcommenter_format_with_sorted_url_encoded_values():
    text = comment.format_comment({"route": "admin:tasks_task_changelist", "admin": "tasks.task"})
    assert text == "/*admin='tasks.task',route='admin%3Atasks_task_changelist'*/"


def test_quotes_and_comment_terminators_in_values_cannot_escape_the_comment():
    sql = comment.add_comment("SELECT 1", {"command": "x'*/; DROP TABLE t; --"}, has_params=False)
    assert sql.count("*/") == 1 and sql.endswith("*/")
    assert "DROP TABLE t" not in sql
    assert comment.parse_comment(sql) == {"command": "x'*/; DROP TABLE t; --"}


def test_percent_signs_are_doubled_only_when_the_driver_formats_placeholders():
    tags = {"route": "a b"}
    assert comment.add_comment("SELECT %s", tags, has_params=True).endswith("route='a%%20b'*/")
    assert comment.add_comment("SELECT 1", tags, has_params=False).endswith("route='a%20b'*/")


def test_only_queries_and_dml_are_tagged_never_twice():
    tags = {"command": "maintain"}
    assert comment.add_comment("SAVEPOINT s1", tags, has_params=False) == "SAVEPOINT s1"
    assert comment.add_comment("SET LOCAL x = 1", tags, has_params=False) == "SET LOCAL x = 1"
    once = comment.add_comment("UPDATE t SET a = 1;", tags, has_params=False)
    assert once == "UPDATE t SET a = 1 /*command='maintain'*/"
    assert comment.add_comment(once, tags, has_params=False) == once
    assert comment.add_comment("SELECT 1", {}, has_params=False) == "SELECT 1"


def test_parse_reads_only_a_trailing_comment():
    assert comment.parse_comment("SELECT 1 /*route='a%3Ab'*/") == {"route": "a:b"}
    assert comment.parse_comment("SELECT '/*route=''x''*/' FROM t") == {}
    assert comment.parse_comment(None) == {}
    assert comment.origin_label({"route": "admin:index", "command": "x"}) == "route: admin:index"
    assert comment.origin_label({"celery_task": "ops.refresh"}) == "celery task: ops.refresh"


def test_shapes_fold_literals_and_in_lists():
    a = 'SELECT * FROM "t" WHERE "id" IN (%s, %s, %s) AND "n" = 5'
    b = 'SELECT * FROM "t" WHERE "id" IN (%s, %s) AND "n" = 7'
    assert shape(a) == shape(b)
    assert shape("SELECT 'a'") == shape("SELECT 'b'") != shape("SELECT 1 FROM u")
    tally = Tally()
    for _ in range(3):
        tally.add(a)
    tally.add("SELECT 1 FROM u")
    assert tally.queries == 4
    assert tally.repeated(3) == [(shape(a), 3)]
    assert tally.repeated(4) == []
    for _ in range(5):
        tally.add("SELECT set_config('statement_timeout', %s, true)")
    assert tally.queries == 9 and tally.repeated(3) == [(shape(a), 3)]
