"""Configuration from environment variables, all with the ``SIPAS_`` prefix.

Every variable is documented in README.md ("Configuration"). A malformed value stops start-up with a
``ConfigError`` naming the variable, never with a traceback from deep inside the app.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from core.clock import LOCAL_TZ

PREFIX = "SIPAS_"
ROLES = ("aggregator", "kiosk", "all")
LOCALES = ("vi", "en")
BASE_DIR = Path(__file__).resolve().parent.parent


class ConfigError(Exception):
    """A configuration variable is missing or malformed; the message names it."""


def _get(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(PREFIX + name)
    if value is None or value.strip() == "":
        return None
    return value.strip()


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = _get(env, name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{PREFIX}{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{PREFIX}{name} must be at least {minimum}, got {value}")
    return value


def _limit(env: Mapping[str, str], name: str, default: tuple[int, int]) -> tuple[int, int]:
    """A rate limit written COUNT/SECONDS ("30/3600": thirty per hour), both at least 1."""
    raw = _get(env, name)
    if raw is None:
        return default
    count, sep, seconds = raw.partition("/")
    if not sep or not count.strip().isdigit() or not seconds.strip().isdigit():
        raise ConfigError(
            f"{PREFIX}{name} must be written COUNT/SECONDS (for example 30/3600), got {raw!r}"
        )
    value = (int(count), int(seconds))
    if min(value) < 1:
        raise ConfigError(f"{PREFIX}{name} needs a count and seconds of at least 1, got {raw!r}")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = _get(env, name)
    if raw is None:
        return default
    lowered = raw.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{PREFIX}{name} must be true or false, got {raw!r}")


def _url(env: Mapping[str, str], name: str) -> str | None:
    raw = _get(env, name)
    if raw is None:
        return None
    if not raw.startswith(("http://", "https://")):
        raise ConfigError(f"{PREFIX}{name} must be an http:// or https:// URL, got {raw!r}")
    return raw.rstrip("/")


def _secret_key(env: Mapping[str, str], instance: Path) -> str:
    """The key that signs sessions and aggregator tokens.

    Several aggregator instances must share it, so production sets SIPAS_SECRET_KEY. A single
    process without it gets a random key kept in the instance folder, so restarts keep sessions.
    """
    raw = _get(env, "SECRET_KEY")
    if raw is not None:
        if len(raw) < 32:
            raise ConfigError(f"{PREFIX}SECRET_KEY must be at least 32 characters long")
        return raw
    path = instance / "secret_key"
    if path.exists():
        return path.read_text().strip()
    from core.private_files import private_dir

    private_dir(instance)
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


def database_url(env: Mapping[str, str], role: str, instance: Path) -> str:
    """SIPAS_DATABASE_URL, else DATABASE_URL, else a SQLite file per role in the instance folder."""
    raw = _get(env, "DATABASE_URL") or (env.get("DATABASE_URL") or "").strip() or None
    if raw is None:
        name = "kiosk" if role == "kiosk" else "aggregator"
        return f"sqlite:///{instance / (name + '.db')}"
    if raw.startswith("postgresql://") or raw.startswith("postgres://"):
        # psycopg 3 is our PostgreSQL driver; accept the common spelling.
        raw = "postgresql+psycopg://" + raw.split("://", 1)[1]
    if not raw.startswith(("sqlite://", "postgresql+psycopg://")):
        raise ConfigError(
            f"{PREFIX}DATABASE_URL must start with sqlite:// or postgresql+psycopg://, got {raw!r}"
        )
    return raw


def load(env: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None) -> dict:
    """Build the Flask config mapping from the environment (and test overrides)."""
    env = os.environ if env is None else env
    overrides = dict(overrides or {})
    role = (overrides.get("ROLE") or _get(env, "ROLE") or "all").lower()
    if role not in ROLES:
        raise ConfigError(f"{PREFIX}ROLE must be one of {', '.join(ROLES)}, got {role!r}")
    instance = Path(
        overrides.get("INSTANCE_PATH") or _get(env, "INSTANCE_PATH") or BASE_DIR / "instance"
    ).resolve()
    locale = (_get(env, "DEFAULT_LOCALE") or "vi").lower()
    if locale not in LOCALES:
        raise ConfigError(f"{PREFIX}DEFAULT_LOCALE must be one of {', '.join(LOCALES)}")
    redis_url = _get(env, "REDIS_URL")
    if redis_url is not None and not redis_url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError(f"{PREFIX}REDIS_URL must start with redis://, rediss:// or unix://")
    secure_cookies = _bool(env, "SECURE_COOKIES", False)
    config: dict[str, Any] = {
        "ROLE": role,
        "INSTANCE_PATH": str(instance),
        "SQLALCHEMY_DATABASE_URI": overrides.get("SQLALCHEMY_DATABASE_URI")
        or database_url(env, role, instance),
        "SECRET_KEY": overrides.get("SECRET_KEY") or _secret_key(env, instance),
        "REDIS_URL": redis_url,
        "BABEL_DEFAULT_LOCALE": locale,
        "BABEL_DEFAULT_TIMEZONE": LOCAL_TZ.key,
        # Suppression thresholds (docs/METHOD.md): read by core.services.reporting, which passes
        # them to the pure engine in core/sipas.py; pages, API and exports all go through it.
        "MIN_REPORT_N": _int(env, "MIN_REPORT_N", 10, minimum=1),
        "MIN_OFFICER_N": _int(env, "MIN_OFFICER_N", 20, minimum=1),
        # Public base URL of the aggregator: QR codes and survey links point here.
        "PUBLIC_URL": _url(env, "PUBLIC_URL") or "http://127.0.0.1:8000",
        # Kiosk: the aggregator address enrollment starts from (`kiosk enroll` without --server,
        # the setup page). The worker then pushes to the address stored with the credentials,
        # because the key it signs with belongs to the aggregator that issued it.
        "AGGREGATOR_URL": _url(env, "AGGREGATOR_URL"),
        # Kiosk: the local API key the counter's software uses to arm a transaction.
        "KIOSK_LOCAL_API_KEY": _get(env, "KIOSK_LOCAL_API_KEY"),
        "KIOSK_TECH_PIN": _get(env, "KIOSK_TECH_PIN"),
        "SYNC_BATCH_SIZE": _int(env, "SYNC_BATCH_SIZE", 500, minimum=1),
        # Sync (issue 4): enrollment codes, key rotation, back-pressure and the kiosk's worker.
        "ENROLLMENT_CODE_HOURS": _int(env, "ENROLLMENT_CODE_HOURS", 24, minimum=1),
        "KEY_ROTATION_GRACE_HOURS": _int(env, "KEY_ROTATION_GRACE_HOURS", 168, minimum=1),
        "SYNC_RATE_PER_MINUTE": _int(env, "SYNC_RATE_PER_MINUTE", 600, minimum=1),
        "SYNC_LOCK_TIMEOUT_MS": _int(env, "SYNC_LOCK_TIMEOUT_MS", 5000, minimum=100),
        "SYNC_INTERVAL_S": _int(env, "SYNC_INTERVAL_S", 10, minimum=1),
        "SYNC_MAX_BACKOFF_S": _int(env, "SYNC_MAX_BACKOFF_S", 300, minimum=1),
        "SURVEY_TOKEN_DAYS": _int(env, "SURVEY_TOKEN_DAYS", 7, minimum=1),
        # Reporting API tokens stop working this many days after they were created.
        "API_TOKEN_DAYS": _int(env, "API_TOKEN_DAYS", 365, minimum=1),
        # Poster surveys (core/services/survey/flow.py): over-limit submissions are stored flagged.
        "SURVEY_POSTER_IP_LIMIT": _limit(env, "SURVEY_POSTER_IP_LIMIT", (30, 3600)),
        "SURVEY_POSTER_BROWSER_LIMIT": _limit(env, "SURVEY_POSTER_BROWSER_LIMIT", (3, 86400)),
        "SURVEY_POSTER_START_LIMIT": _limit(env, "SURVEY_POSTER_START_LIMIT", (120, 3600)),
        # Reporting API (per token) and public transparency page (per address): 429 beyond.
        "API_RATE_LIMIT": _limit(env, "API_RATE_LIMIT", (600, 60)),
        "PUBLIC_RATE_LIMIT": _limit(env, "PUBLIC_RATE_LIMIT", (120, 60)),
        "SESSION_IDLE_MINUTES": _int(env, "SESSION_IDLE_MINUTES", 30, minimum=1),
        # Absolute lifetime of an admin session, however active (admin/auth.py).
        "SESSION_MAX_HOURS": _int(env, "SESSION_MAX_HOURS", 12, minimum=1),
        # Sign-in and password-change guessing limits (admin/services.py), per lock window.
        "LOGIN_MAX_FAILURES": _int(env, "LOGIN_MAX_FAILURES", 5, minimum=1),
        "LOGIN_LOCK_MINUTES": _int(env, "LOGIN_LOCK_MINUTES", 15, minimum=1),
        "LOGIN_IP_ATTEMPTS": _int(env, "LOGIN_IP_ATTEMPTS", 30, minimum=1),
        "LOG_LEVEL": (_get(env, "LOG_LEVEL") or "INFO").upper(),
        # Reverse proxies in front of the app whose X-Forwarded-* headers are trusted.
        "PROXY_COUNT": _int(env, "PROXY_COUNT", 0),
        "SESSION_COOKIE_SECURE": secure_cookies,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_NAME": "sipas_" + role,
        "PREFERRED_URL_SCHEME": "https" if secure_cookies else "http",
        "WTF_CSRF_TIME_LIMIT": None,  # CSRF tokens live as long as the signed session
        "MAX_CONTENT_LENGTH": _int(env, "MAX_CONTENT_LENGTH", 8 * 1024 * 1024, minimum=1024),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "JSON_AS_ASCII": False,
    }
    if _get(env, "KIOSK_TECH_PIN") and not _get(env, "KIOSK_TECH_PIN").isdigit():  # type: ignore[union-attr]
        raise ConfigError(f"{PREFIX}KIOSK_TECH_PIN must be digits only")
    config.update(overrides)
    return config
