"""The kiosk's sync client and worker: enroll, pull configuration, push the outbox, heartbeat.

The worker runs in its own process (``flask --app wsgi kiosk sync``) so a slow or absent network
never holds up a tap. Its writes to the kiosk database are short (one UPDATE per batch of
answers), so a tap waiting for the write lock waits milliseconds at most.

Delivery is at-least-once: a rating is marked sent only when the aggregator's answer for that very
item says accepted or duplicate; anything else (a dropped connection, a killed server, a 503)
leaves it pending and it is sent again, which the aggregator's unique key makes harmless.
Failures back off exponentially with full jitter (and honour Retry-After), so many kiosks coming
back after an outage do not arrive all at once.
"""

from __future__ import annotations

import http.client
import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import func, or_, select, update

from core import protocol
from core.database import begin_write
from core.extensions import db
from core.models.kiosk_local import KioskState, OutboxRating
from core.models.types import utcnow
from core.services.accounts import audit
from core.version import __version__
from kiosk import identity
from kiosk.capture import FOLLOWUP_GRACE_S
from kiosk.configuration import settings
from kiosk.outbox import queue_stats

log = logging.getLogger(__name__)
BASE_BACKOFF_S = 1.0
REQUEUE_ATTEMPTS = 3


class SyncFailure(Exception):
    """This attempt failed; try again after ``retry_after`` seconds (or a backoff) if set."""

    def __init__(self, message: str, retry_after: float | None = None,
                 code: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.code = code
        self.status = status


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: Any

    @property
    def error_code(self) -> str | None:
        if isinstance(self.body, dict) and isinstance(self.body.get("error"), dict):
            return self.body["error"].get("code")
        return None


@dataclass
class CycleResult:
    batches: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    remaining: int = 0
    config_changed: bool = False
    key_rotated: bool = False
    missing: list[list[int]] = field(default_factory=list)


def _retry_after(headers: dict[str, str]) -> float | None:
    raw = headers.get("retry-after")
    try:
        return max(0.0, float(raw)) if raw is not None else None
    except ValueError:
        return None


class Client:
    """Signed HTTP requests to the aggregator over one kept-alive connection.

    The kiosk's clock may be wrong: signatures use the clock corrected by the offset learned from
    the server's time in every answer (and at once from a ``clock_skew`` refusal).
    """

    def __init__(self, credentials: identity.Credentials, clock: Callable[[], float] = time.time,
                 offset_s: float = 0.0, timeout: float = 30.0) -> None:
        self.credentials = credentials
        self.clock = clock
        self.offset_s = offset_s
        self.timeout = timeout
        parts = urlsplit(credentials.server_url)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or (443 if self._https else 80)
        self._prefix = parts.path.rstrip("/")
        self._conn: http.client.HTTPConnection | None = None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            self._conn = cls(self._host, self._port, timeout=self.timeout)
        return self._conn

    def send(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> Response:
        """One HTTP exchange; any transport problem becomes a SyncFailure (and a new connection)."""
        try:
            conn = self._connection()
            conn.request(method, self._prefix + path, body=body or None, headers=headers)
            raw = conn.getresponse()
            data = raw.read()
            answer_headers = {k.lower(): v for k, v in raw.getheaders()}
            if answer_headers.get("connection", "").lower() == "close":
                self.close()
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            raise SyncFailure(f"network: {type(exc).__name__}: {exc}", code="network") from None
        try:
            parsed = json.loads(data) if data else None
        except ValueError:
            parsed = None
        return Response(raw.status, answer_headers, parsed)

    def request(self, method: str, path: str, payload: Any = None,
                extra_headers: dict[str, str] | None = None, signed: bool = True) -> Response:
        body = b"" if payload is None else json.dumps(payload, separators=(",", ":")).encode()
        for attempt in range(2):
            headers = {"Content-Type": "application/json", "Accept": "application/json",
                       **(extra_headers or {})}
            if signed:
                headers.update(protocol.signed_headers(
                    self.credentials, method, self._prefix + path, body,
                    self.clock() + self.offset_s))
            sent_at = self.clock()
            response = self.send(method, path, body, headers)
            self._learn_offset(response, sent_at, self.clock())
            if response.error_code == "clock_skew" and attempt == 0:
                # The refusal carries the server's time; sign again with the corrected clock.
                continue
            return response
        return response

    def _learn_offset(self, response: Response, sent_at: float, received_at: float) -> None:
        server = None
        if isinstance(response.body, dict) and isinstance(response.body.get("error"), dict):
            server = response.body["error"].get("server_time")
        if server is None:
            raw = response.headers.get(protocol.HEADER_SERVER_TIME.lower())
            try:
                server = float(raw) if raw is not None else None
            except ValueError:
                server = None
        if isinstance(server, int | float):
            self.offset_s = float(server) - (sent_at + received_at) / 2


def check(response: Response, what: str) -> Response:
    """Turn an unusable answer into a SyncFailure with the server's reason and Retry-After."""
    if response.status < 400 or response.status == 413:
        return response
    code = response.error_code or str(response.status)
    message = ""
    if isinstance(response.body, dict) and isinstance(response.body.get("error"), dict):
        message = response.body["error"].get("message", "")
    raise SyncFailure(f"{what}: {response.status} {code} {message}".strip(),
                      _retry_after(response.headers), code, response.status)


# --- Kiosk-side state ---------------------------------------------------------------------------

def kiosk_state() -> KioskState:
    """The kiosk's single state row, created on first use."""
    state = db.session.get(KioskState, 1)
    if state is None:
        begin_write()
        state = KioskState(id=1, next_seq=1)
        db.session.add(state)
        db.session.commit()
    return state


def clean_server_url(raw: str | None) -> str:
    """The aggregator's base URL, trimmed; SyncFailure ``bad_url`` unless http(s)://host[...]."""
    value = (raw or "").strip().rstrip("/")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        parts = None
    if (parts is None or parts.scheme not in ("http", "https") or not parts.hostname
            or parts.query or parts.fragment or len(value) > 300
            or any(c.isspace() for c in value)):
        raise SyncFailure("the server must be an http:// or https:// URL, e.g. "
                          "https://hailong.example.gov.vn", code="bad_url")
    return value


def enroll(server_url: str, code: str, clock: Callable[[], float] = time.time,
           replace: bool = False, actor: str = "cli") -> KioskState:
    """Exchange an enrollment code for credentials (kept 0600) and store the first config.

    The one path for the CLI (``kiosk enroll``) and the setup page. An enrolled kiosk is enrolled
    again only with ``replace`` (its unsent ratings stay queued and go out under the new id).
    Refusals are SyncFailure with a ``code``: ``bad_url``, ``already_enrolled``, ``network``,
    the aggregator's own (``invalid_code``, ``code_expired``, ``rate_limited``) or
    ``not_aggregator`` for an answer that is not the sync API's.
    """
    server_url = clean_server_url(server_url)
    previous = identity.load()
    if previous is not None and not replace:
        raise SyncFailure("this kiosk is already enrolled; replace its identity explicitly "
                          "(send or export its unsent ratings first)", code="already_enrolled")
    client = Client(identity.Credentials("", "", server_url), clock=clock, timeout=15.0)
    try:
        response = client.request("POST", protocol.ENROLL_PATH,
                                  {"code": code.strip(), "first_seq": first_unsent_seq()},
                                  signed=False)
    finally:
        client.close()
    if response.status >= 400 and response.error_code is None:
        raise SyncFailure(f"enroll: {response.status} from a server that is not a SIPAS "
                          "aggregator", code="not_aggregator", status=response.status)
    check(response, "enroll")
    body = response.body
    if (response.status != 200 or not isinstance(body, dict) or not isinstance(
            body.get("secret"), str) or not isinstance(body.get("config"), dict)):
        raise SyncFailure(f"enroll: unexpected answer {response.status}", code="not_aggregator",
                          status=response.status)
    identity.save(identity.Credentials(body["kiosk_id"], body["secret"], server_url))
    state = kiosk_state()
    begin_write()
    state.kiosk_public_id = body["kiosk_id"]
    state.server_url = server_url
    state.config = body["config"]
    state.config_etag = body.get("config_etag")
    state.clock_offset_s = client.offset_s
    state.enrolled_at = utcnow()
    audit.record("kiosk.enrolled", username=actor, target_type="kiosk",
                 target_id=body["kiosk_id"],
                 details={"server": server_url,
                          "replaced": previous.kiosk_id if previous else None})
    db.session.commit()
    return state


def first_unsent_seq() -> int:
    """The first sequence number a new identity will send: the oldest rating still waiting, or
    the next one to be tapped. Numbers keep going across enrolments; the ones below were sent
    under the previous identity, and the aggregator must not wait for them as gaps."""
    oldest = db.session.scalar(
        select(func.min(OutboxRating.seq)).where(OutboxRating.status == "pending"))
    if oldest is not None:
        return int(oldest)
    state = db.session.get(KioskState, 1)
    return int(state.next_seq) if state is not None and state.next_seq else 1


def requeue_retired_rejections() -> int:
    """Send again ratings an older aggregator refused for a reason it no longer gives (their
    age, or another kiosk claiming their uuid). A few tries only, in case the server is old."""
    begin_write()
    conditions = [OutboxRating.reject_reason.like(code + "%")
                  for code in protocol.RETIRED_REASONS]
    count = db.session.execute(
        update(OutboxRating)
        .where(OutboxRating.status == "rejected", OutboxRating.attempts < REQUEUE_ATTEMPTS,
               or_(*conditions))
        .values(status="pending", reject_reason=None)
    ).rowcount
    db.session.commit()
    return int(count or 0)


def _finalise_stale(now: datetime) -> None:
    """Finalise ratings whose follow-up was never answered (docs/DEVELOPING.md, "Outbox rows")."""
    state = db.session.get(KioskState, 1)
    # The same validated timeout the follow-up screen runs on, plus the same grace.
    timeout = settings(state).followup_timeout_s + FOLLOWUP_GRACE_S
    begin_write()
    db.session.execute(
        update(OutboxRating)
        .where(OutboxRating.finalised_at.is_(None),
               OutboxRating.device_time < now - timedelta(seconds=timeout))
        .values(finalised_at=now)
    )
    db.session.commit()


def rating_item(row: OutboxRating, questionnaire_version: int | None) -> dict[str, Any]:
    return {
        "uuid": row.uuid,
        "seq": row.seq,
        "scale": row.scale,
        "level": row.level,
        "reasons": row.reasons or [],
        "officer_code": row.officer_code,
        "dossier_code": row.dossier_code,
        "procedure_code": row.procedure_code,
        "misuse": row.misuse,
        "device_time": row.device_time.astimezone(UTC).isoformat(),
        "questionnaire_version": questionnaire_version,
    }


def pending_query(limit: int | None):
    """Finalised ratings still to send, oldest first (``limit`` None: all of them)."""
    return (
        select(OutboxRating)
        .where(OutboxRating.status == "pending", OutboxRating.finalised_at.is_not(None))
        .order_by(OutboxRating.seq).limit(limit)
    )


def _apply(rows: list[OutboxRating], results: list[dict[str, Any]], now: datetime) -> tuple:
    """Mark what the aggregator confirmed as sent, and rejections with their reason."""
    by_uuid = {row.uuid: row for row in rows}
    sent: list[str] = []
    rejected: list[tuple[str, str]] = []
    for result in results:
        if not isinstance(result, dict) or result.get("uuid") not in by_uuid:
            continue
        status = result.get("status")
        if status in ("accepted", "duplicate"):
            sent.append(result["uuid"])
        elif status == "rejected":
            reason = str(result.get("reason") or "rejected")
            text = result.get("message")
            rejected.append((result["uuid"], f"{reason}: {text}" if text else reason))
    db.session.rollback()  # end the read transaction; the write below starts fresh
    begin_write()
    if sent:
        db.session.execute(
            update(OutboxRating)
            .where(OutboxRating.uuid.in_(sent), OutboxRating.status == "pending")
            .values(status="sent", sent_at=now, attempts=OutboxRating.attempts + 1)
        )
    for rating_uuid, reason in rejected:
        db.session.execute(
            update(OutboxRating)
            .where(OutboxRating.uuid == rating_uuid, OutboxRating.status == "pending")
            .values(status="rejected", reject_reason=reason[:1000],
                    attempts=OutboxRating.attempts + 1)
        )
    db.session.commit()
    return len(sent), len(rejected)


# --- The worker ---------------------------------------------------------------------------------

class Worker:
    """One kiosk's sync loop: ``cycle()`` once, or ``run()`` with backoff until stopped."""

    def __init__(self, clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep, batch_size: int | None = None,
                 echo: Callable[[str], None] | None = None) -> None:
        self.clock = clock
        self.sleep = sleep
        self.batch_size = batch_size or int(current_app.config["SYNC_BATCH_SIZE"])
        self.echo = echo or log.info
        self.client: Client | None = None
        self.failures = 0

    def _client(self) -> Client:
        credentials = identity.load()
        if credentials is None:
            raise SyncFailure("this kiosk is not enrolled (run `kiosk enroll` first)",
                              code="not_enrolled")
        if self.client is None or self.client.credentials != credentials:
            state = db.session.get(KioskState, 1)
            offset = state.clock_offset_s if state and state.clock_offset_s else 0.0
            if self.client is not None:
                offset = self.client.offset_s
                self.client.close()
            self.client = Client(credentials, clock=self.clock, offset_s=offset)
        return self.client

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def pull_config(self, result: CycleResult) -> None:
        client = self._client()
        state = kiosk_state()
        headers = {"If-None-Match": state.config_etag} if state.config_etag else {}
        response = check(client.request("GET", protocol.CONFIG_PATH, extra_headers=headers),
                         "config")
        if response.status == 304:
            return
        body = response.body if isinstance(response.body, dict) else {}
        if not isinstance(body.get("config"), dict):
            raise SyncFailure(f"config: unexpected answer {response.status}")
        new_secret = (body.get("credentials") or {}).get("secret")
        if isinstance(new_secret, str) and new_secret:
            # Rotated by an administrator: keep the new key; the outbox is untouched.
            identity.save(identity.Credentials(client.credentials.kiosk_id, new_secret,
                                               client.credentials.server_url))
            client.credentials = identity.load() or client.credentials
            result.key_rotated = True
        db.session.rollback()
        begin_write()
        state = kiosk_state()
        state.config = body["config"]
        state.config_etag = body.get("version")
        db.session.commit()
        result.config_changed = True

    def push_all(self, result: CycleResult, max_batches: int | None = None) -> None:
        """Push finalised pending ratings, oldest first, until none is left."""
        client = self._client()
        state = kiosk_state()
        version = ((state.config or {}).get("questionnaire_version")) or None
        batch = self.batch_size
        while max_batches is None or result.batches < max_batches:
            rows = list(db.session.scalars(pending_query(batch)))
            if not rows:
                break
            payload = {"device_clock": self.clock(),
                       "ratings": [rating_item(row, version) for row in rows]}
            response = check(client.request("POST", protocol.PUSH_PATH, payload), "push")
            if response.status == 413:
                if batch == 1:
                    raise SyncFailure("push: the server refuses even a single rating (413)")
                batch = max(1, batch // 2)  # the server accepts less than we send
                continue
            body = response.body if isinstance(response.body, dict) else {}
            results = body.get("results")
            if response.status != 200 or not isinstance(results, list):
                raise SyncFailure(f"push: unexpected answer {response.status}")
            sent, rejected = _apply(rows, results, self._now())
            result.batches += 1
            result.accepted += int(body.get("accepted", 0))
            result.duplicates += int(body.get("duplicates", 0))
            result.rejected += rejected
            result.missing = body.get("missing") or []
            if sent + rejected == 0:
                raise SyncFailure("push: the server confirmed none of the batch")

    def heartbeat(self, result: CycleResult) -> None:
        depth, age = queue_stats(self._now())
        result.remaining = depth
        response = self._client().request("POST", protocol.HEARTBEAT_PATH, {
            "queue_depth": depth, "oldest_unsent_age_s": age, "app_version": __version__,
            "device_clock": self.clock(),
        })
        check(response, "heartbeat")

    def cycle(self, max_batches: int | None = None) -> CycleResult:
        """One full sync: finalise stale taps, pull config, push everything, report."""
        result = CycleResult()
        try:
            _finalise_stale(self._now())
            requeue_retired_rejections()
            self.pull_config(result)
            self.push_all(result, max_batches)
            self.heartbeat(result)
        except SyncFailure as failure:
            db.session.rollback()
            self._record(str(failure), success=False)
            raise
        self._record(f"ok: {result.accepted} accepted, {result.duplicates} duplicate, "
                     f"{result.rejected} rejected, {result.remaining} pending", success=True)
        return result

    def _record(self, outcome: str, success: bool) -> None:
        now = utcnow()
        begin_write()
        state = kiosk_state()
        state.last_sync_at = now
        state.last_sync_outcome = outcome[:300]
        if success:
            state.last_success_at = now
        if self.client is not None:
            state.clock_offset_s = round(self.client.offset_s, 3)
        db.session.commit()

    def backoff(self, retry_after: float | None) -> float:
        """Full jitter: a random wait up to base·2^failures (capped), at least Retry-After."""
        cap = float(current_app.config["SYNC_MAX_BACKOFF_S"])
        ceiling = min(cap, BASE_BACKOFF_S * 2 ** min(self.failures, 30))
        delay = random.uniform(0, ceiling)  # noqa: S311 - spreading retries, not a secret
        if retry_after is not None:
            delay = max(delay, min(retry_after, cap))
        return delay

    def run(self, once: bool = False, max_seconds: float | None = None,
            stop: Callable[[], bool] = lambda: False) -> bool:
        """Sync until stopped; with ``once``, until one cycle succeeds. True when it did."""
        started = time.monotonic()
        interval = float(current_app.config["SYNC_INTERVAL_S"])
        while not stop():
            try:
                result = self.cycle()
            except SyncFailure as failure:
                self.failures += 1
                delay = self.backoff(failure.retry_after)
                self.echo(f"sync: {failure}; retrying in {delay:.1f} s")
            else:
                self.failures = 0
                self.echo(f"sync: {result.accepted} accepted, {result.duplicates} duplicate, "
                          f"{result.rejected} rejected; {result.remaining} pending")
                if once:
                    return True
                delay = interval
            if max_seconds is not None and time.monotonic() - started + delay > max_seconds:
                return False
            self.sleep(delay)
        return False


# --- Sneakernet ---------------------------------------------------------------------------------

def export_bundle() -> tuple[bytes, int]:
    """A signed file of every unsent rating (they stay pending: a later push is a duplicate)."""
    credentials = identity.load()
    if credentials is None:
        raise SyncFailure("this kiosk is not enrolled", code="not_enrolled")
    _finalise_stale(utcnow())
    state = kiosk_state()
    version = ((state.config or {}).get("questionnaire_version")) or None
    rows = db.session.scalars(pending_query(None)).all()
    body = json.dumps({
        "format": protocol.BUNDLE_FORMAT,
        "version": protocol.BUNDLE_VERSION,
        "kiosk_id": credentials.kiosk_id,
        "created_at": utcnow().isoformat(),
        "clock_offset_s": state.clock_offset_s,
        "ratings": [rating_item(row, version) for row in rows],
    }, separators=(",", ":"), ensure_ascii=False)
    signature = protocol.sign_bundle(credentials.secret, body.encode())
    return json.dumps({"bundle": body, "signature": signature}).encode(), len(rows)
