"""The redis-py client of a Django cache alias, for what the cache API cannot say (lists, INFO).

Built from the alias's own LOCATION and OPTIONS (the same timeouts and no retries as the cache),
one client per URL, so a test that points CACHES at a dead port gets a client for that port.
"""

from __future__ import annotations

import threading

import redis
from django.conf import settings
from redis.exceptions import RedisError

# What a call raises when Redis is unreachable (socket errors are OSError).
REDIS_ERRORS = (RedisError, OSError)

_clients: dict[tuple[str, tuple], redis.Redis] = {}
_lock = threading.Lock()


def client(alias: str = "default") -> redis.Redis:
    config = settings.CACHES[alias]
    location = config["LOCATION"]
    url = location[0] if isinstance(location, list | tuple) else str(location).split(",")[0]
    options = {"socket_connect_timeout": 1, "socket_timeout": 1, **config.get("OPTIONS", {})}
    key = (url, tuple(sorted((k, repr(v)) for k, v in options.items())))
    with _lock:
        found = _clients.get(key)
        if found is None:
            found = _clients[key] = redis.Redis.from_url(url, **options)
    return found


def key(name: str, alias: str = "default") -> str:
    """The cache's own key for `name` (its KEY_PREFIX and version), for raw list operations."""
    from django.core.cache import caches

    return caches[alias].make_key(name)
