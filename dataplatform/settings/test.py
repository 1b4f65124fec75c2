from .base import *

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Tests share the Redis server with `make run` but never its keys.
CACHES["default"]["KEY_PREFIX"] = "flowbase-test"
DATABASES["default"]["TEST"] = {"NAME": env("TEST_DATABASE_NAME", default="test_flowbase")}
