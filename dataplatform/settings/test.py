import copy

from .base import *

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Tests share the Redis server with `make run` but never its keys.
CACHES["default"]["KEY_PREFIX"] = "flowbase-test"
# Every alias points at the same test database (one database, one login per role): Django
# groups them by NAME/HOST/PORT and creates it once; tests/conftest.py creates and migrates it
# with the owner's credentials and runs the tests as the app role.
for _alias in DATABASES:
    DATABASES[_alias]["TEST"] = {"NAME": env("TEST_DATABASE_NAME", default="test_flowbase")}
# The N+1 guard in tests/conftest.py fails a test whose requests repeated a query shape.
QUERY_REPEAT_RECORD = True

# The PgBouncer pass (`make test-pgbouncer`): the test database is created and migrated on the
# direct port (Django would take an alias on another port for another database and create it
# twice); tests/conftest.py then sends `default`, the app's login, through PgBouncer.
if DB_PGBOUNCER:
    PGBOUNCER_ADDRESS = (DATABASES["default"]["HOST"], DATABASES["default"]["PORT"])
    DATABASES["default"]["HOST"] = DATABASES["owner"]["HOST"]
    DATABASES["default"]["PORT"] = DATABASES["owner"]["PORT"]
else:
    PGBOUNCER_ADDRESS = None

# `replica` mirrors `default` (Django creates no database for it): without a standby it is the
# primary itself, with REPLICA_DATABASE_URL (`make test-replica`) the standby, which replicates the
# test database the primary gets. apps.pg.routing uses it only when REPLICA_ENABLED.
if "replica" not in DATABASES:
    DATABASES["replica"] = copy.deepcopy(DATABASES["default"])
DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
