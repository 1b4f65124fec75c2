"""`flowbase_default_partition_rows(partition, cap)`: the monitor role counts the rows of a default
partition (the Tables page's alarm) without being able to read them. SECURITY DEFINER as the owner
(who runs migrations), fixed search_path, only default partitions; EXECUTE is revoked from PUBLIC
here and granted to the monitor role by `db_roles --apply`."""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION public.flowbase_default_partition_rows(part regclass, cap bigint)
RETURNS bigint LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    n bigint;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = part AND c.relispartition
                   AND pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT') THEN
        RAISE EXCEPTION '% is not a default partition', part USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT has_table_privilege(part, 'SELECT') THEN
        RETURN NULL;
    END IF;
    EXECUTE format('SELECT count(*) FROM (SELECT 1 FROM %s LIMIT %s) q', part, greatest(cap, 0))
        INTO n;
    RETURN n;
END
$fn$;
REVOKE ALL ON FUNCTION public.flowbase_default_partition_rows(regclass, bigint) FROM PUBLIC;
"""


class Migration(migrations.Migration):
    dependencies = [("dbhealth", "0002_operators_group_and_default_checks")]

    operations = [
        migrations.RunSQL(
            CREATE,
            reverse_sql="DROP FUNCTION IF EXISTS public.flowbase_default_partition_rows(regclass, bigint)",
        )
    ]
