"""Fixed-window rate limits, shared through Redis when configured, in memory otherwise.

Used for PIN guessing at the kiosk, failed admin logins and poster survey submissions. Several
aggregator instances must share state, so production sets SIPAS_REDIS_URL.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from flask import Flask, current_app


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


def reset(name: str, key: str) -> None:
    backend().reset(f"rl:{name}:{key}")


def init_app(app: Flask) -> None:
    url = app.config.get("REDIS_URL")
    app.extensions["sipas_ratelimit"] = RedisBackend(url) if url else MemoryBackend()
