"""Rate limits over the ``limits`` library (the engine behind Flask-Limiter): a moving window,
shared through Redis when ``SIPAS_REDIS_URL`` is set, in memory otherwise.

Used for PIN guessing at the kiosk, admin sign-in and password changes, poster survey
submissions, the reporting API (per token) and the public transparency page (per address).
Several aggregator instances must share state, so production sets SIPAS_REDIS_URL.

``hit`` checks and counts in one atomic step (a Lua script in Redis, a lock in memory): an event
is only counted when it fits, so concurrent requests can never get more than ``count`` through.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from flask import Flask, current_app
from limits import RateLimitItemPerSecond
from limits.errors import StorageError
from limits.storage import MemoryStorage, RedisStorage, Storage
from limits.strategies import MovingWindowRateLimiter
from werkzeug.exceptions import ServiceUnavailable, TooManyRequests

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limit:
    count: int
    seconds: int


class _Item(RateLimitItemPerSecond):
    """A limit whose storage key is ``rl/<name>/<key>`` alone, so ``reset`` needs no Limit."""

    def key_for(self, *identifiers: bytes | str | int | float) -> str:
        return "/".join(["rl", *(str(i) for i in identifiers)])


def _item(limit: Limit) -> _Item:
    return _Item(max(1, limit.count), max(1, limit.seconds))


class _Backend:
    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.limiter = MovingWindowRateLimiter(storage)


class MemoryBackend(_Backend):
    """One process's memory (development, tests, a single aggregator)."""

    def __init__(self) -> None:
        super().__init__(MemoryStorage())


class RedisBackend(_Backend):
    """Redis, shared by every aggregator instance."""

    def __init__(self, url: str) -> None:
        super().__init__(RedisStorage(url, wrap_exceptions=True, socket_timeout=2,
                                      socket_connect_timeout=2))
        self._redis = self.storage.get_connection()  # type: ignore[attr-defined]


def backend() -> _Backend:
    return current_app.extensions["sipas_ratelimit"]


def hit(name: str, key: str, limit: Limit) -> bool:
    """Count one event if it fits in the limit; True when it did (checked and counted at once)."""
    if limit.count <= 0:
        return False
    return backend().limiter.hit(_item(limit), name, key)


def exceeded(name: str, key: str, limit: Limit) -> bool:
    """True when the limit is already used up (without counting a new event)."""
    if limit.count <= 0:
        return True
    return not backend().limiter.test(_item(limit), name, key)


def retry_after(name: str, key: str, limit: Limit) -> int:
    """Whole seconds until the oldest event leaves the window (at least 1, at most its length)."""
    stats = backend().limiter.get_window_stats(_item(limit), name, key)
    return min(limit.seconds, max(1, int(stats.reset_time - time.time() + 0.999)))


def enforce(name: str, key: str, limit: Limit, message: Callable[[int], str]) -> None:
    """Count one request; over the limit, raise a 429 with Retry-After and ``message(seconds)``
    (a translated text saying how long to wait).

    If the store (Redis) is down the request is served and the outage logged: a reader of
    published figures is not refused for our failure.
    """
    try:
        allowed = hit(name, key, limit)
        wait = None if allowed else retry_after(name, key, limit)
    except Exception:  # redis.RedisError, OSError: any failure of the store
        log.warning("rate-limit store unavailable for %s; allowing", name, exc_info=True)
        return
    if wait is not None:
        raise too_many(wait, message(wait))


def too_many(wait: int, message: str) -> TooManyRequests:
    """A 429 that the error handlers show with ``message`` and a Retry-After of ``wait``."""
    error = TooManyRequests()
    error.sipas_message = message  # type: ignore[attr-defined]
    error.retry_after = wait  # type: ignore[attr-defined]
    return error


@contextmanager
def required(name: str) -> Iterator[None]:
    """For limits that guard a secret (sign-in, password change): if the store is down, answer
    503 "busy, try again" rather than let guesses through uncounted."""
    try:
        yield
    except StorageError:
        log.warning("rate-limit store unavailable for %s; refusing", name, exc_info=True)
        raise ServiceUnavailable(retry_after=30) from None


def reset(name: str, key: str) -> None:
    backend().storage.clear(_Item(1, 1).key_for(name, key))


def init_app(app: Flask) -> None:
    url = app.config.get("REDIS_URL")
    app.extensions["sipas_ratelimit"] = RedisBackend(url) if url else MemoryBackend()
