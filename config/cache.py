"""The Redis cache, made optional: when Redis is down a request goes on without it.

The cache holds only what can be lost (throttle counters, cached slot answers), so a
Redis outage must not turn into errors for clients: every read is a miss, every write is
dropped, and one warning a minute says so. /health/ still reports the cache as down.
"""

import logging
import time

from django.core.cache.backends.redis import RedisCache
from redis.exceptions import RedisError

log = logging.getLogger(__name__)
_last_warning = [0.0]


def _warn(error: Exception) -> None:
    if time.monotonic() - _last_warning[0] > 60:
        _last_warning[0] = time.monotonic()
        log.warning("cache unavailable, going on without it: %s", type(error).__name__)


class ResilientRedisCache(RedisCache):
    def get(self, key, default=None, version=None):
        try:
            return super().get(key, default, version)
        except RedisError as error:
            _warn(error)
            return default

    def get_many(self, keys, version=None):
        try:
            return super().get_many(keys, version)
        except RedisError as error:
            _warn(error)
            return {}

    def has_key(self, key, version=None):
        try:
            return super().has_key(key, version)
        except RedisError as error:
            _warn(error)
            return False

    def incr(self, key, delta=1, version=None):
        try:
            return super().incr(key, delta, version)
        except RedisError as error:
            _warn(error)
            raise ValueError("cache unavailable") from error  # as for a missing key


def _dropped(name):
    def write(self, *args, **kwargs):
        try:
            return getattr(RedisCache, name)(self, *args, **kwargs)
        except RedisError as error:
            _warn(error)
            return False

    write.__name__ = name
    return write


for _name in ("add", "set", "touch", "delete", "set_many", "delete_many", "clear"):
    setattr(ResilientRedisCache, _name, _dropped(_name))
