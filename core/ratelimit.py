"""Fixed-window rate limits, shared through Redis when configured, in memory otherwise.

Used for PIN guessing at the kiosk, failed admin logins, poster survey submissions, the reporting
API (per token) and the public transparency page (per address). Several
aggregator instances must share state, so production sets SIPAS_REDIS_URL.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask, current_app
from werkzeug.exceptions import TooManyRequests

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limit:
    count: int
    seconds: int


class MemoryBackend:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._hits: dict[str, tuple[int, float]] = {}

    def hit(self, key: str, seconds: int) -> int:
        now = time.monotonic()
        with self._lock:
            count, expires = self._hits.get(key, (0, now + seconds))
            if now >= expires:
                count, expires = 0, now + seconds
            count += 1
            self._hits[key] = (count, expires)
            if len(self._hits) > 100_000:  # bound memory under a flood of distinct keys
                self._hits = {k: v for k, v in self._hits.items() if v[1] > now}
            return count

    def peek(self, key: str) -> int:
        now = time.monotonic()
        with self._lock:
            count, expires = self._hits.get(key, (0, now))
            return count if now < expires else 0

    def ttl(self, key: str) -> float:
        """Seconds until the key's window ends (0 when there is none)."""
        now = time.monotonic()
        with self._lock:
            _, expires = self._hits.get(key, (0, now))
            return max(0.0, expires - now)

    def reset(self, key: str) -> None:
        with self._lock:
            self._hits.pop(key, None)


class RedisBackend:
    def __init__(self, url: str) -> None:
        import redis

        self._redis = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)

    def hit(self, key: str, seconds: int) -> int:
        pipe = self._redis.pipeline()
        pipe.incr(key)
        pipe.expire(key, seconds, nx=True)
        count, _ = pipe.execute()
        return int(count)

    def peek(self, key: str) -> int:
        value = self._redis.get(key)
        return int(value) if value else 0

    def ttl(self, key: str) -> float:
        return float(max(0, int(self._redis.ttl(key))))

    def reset(self, key: str) -> None:
        self._redis.delete(key)


def backend():
    return current_app.extensions["sipas_ratelimit"]


def hit(name: str, key: str, limit: Limit) -> bool:
    """Count one event; True while the count stays within the limit."""
    return backend().hit(f"rl:{name}:{key}", limit.seconds) <= limit.count


def exceeded(name: str, key: str, limit: Limit) -> bool:
    """True when the limit is already used up (without counting a new event)."""
    return backend().peek(f"rl:{name}:{key}") >= limit.count


def retry_after(name: str, key: str, limit: Limit) -> int:
    """Whole seconds until the current window of a limit ends (at least 1, at most its length)."""
    return min(limit.seconds, max(1, int(backend().ttl(f"rl:{name}:{key}") + 0.999)))


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
        error = TooManyRequests()
        error.sipas_message = message(wait)  # type: ignore[attr-defined]
        error.retry_after = wait  # type: ignore[attr-defined]
        raise error


def reset(name: str, key: str) -> None:
    backend().reset(f"rl:{name}:{key}")


def init_app(app: Flask) -> None:
    url = app.config.get("REDIS_URL")
    app.extensions["sipas_ratelimit"] = RedisBackend(url) if url else MemoryBackend()
