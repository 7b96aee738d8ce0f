"""What each request tells about its kiosk: when it was last seen, how far its clock is off,
and (in a heartbeat) its queue and version.

The clock offset is the smallest (receive time - kiosk clock at sending) among the kiosk's
recent requests (``observe_clock``): every sample is the true offset plus that request's network
and queue delay, so the smallest is the one with the least delay, and a slow upload is never
taken for clock error.
"""

from __future__ import annotations

from datetime import datetime

from core.models import Kiosk, utcnow
from core.services.sync.locks import lock_kiosk
from core.services.unit_of_work import write_unit

SKEW_FLAG_S = 300
# Clock samples: the smallest of those taken in the last hour (at most 20) is the offset; a sample
# more than two minutes above it means the kiosk's clock was set back, and starts afresh.
OFFSET_WINDOW_S = 3600
OFFSET_SAMPLES = 20
OFFSET_JUMP_S = 120


def observe_clock(kiosk: Kiosk, sample_s: float, now: datetime) -> float:
    """Add one (receive time - kiosk clock at sending) sample; return the kiosk's clock offset.

    Each sample is the true offset plus the request's network and queue delay (never negative),
    so the smallest recent sample is the best estimate, the way NTP keeps the exchange with the
    shortest round trip. A clock set forward lowers the samples and is followed at once; a sample
    more than OFFSET_JUMP_S above the smallest means the clock was set back, and the old samples
    are dropped.
    """
    at = now.timestamp()
    samples = [
        [float(t), float(v)] for t, v in (
            pair for pair in (kiosk.clock_samples or [])
            if isinstance(pair, list) and len(pair) == 2)
        if isinstance(t, int | float) and isinstance(v, int | float)
        and 0 <= at - t <= OFFSET_WINDOW_S
    ]
    if samples and sample_s - min(v for _, v in samples) > OFFSET_JUMP_S:
        samples = []
    samples.append([round(at, 3), round(sample_s, 3)])
    samples = samples[-OFFSET_SAMPLES:]
    kiosk.clock_samples = samples
    return min(v for _, v in samples)


def record_contact(kiosk: Kiosk, offset_s: float | None, now: datetime) -> None:
    """Last seen, and the clock offset measured now (skew over five minutes is flagged)."""
    kiosk.last_seen_at = now
    if offset_s is not None:
        kiosk.clock_offset_s = round(offset_s, 3)
        kiosk.clock_skew_flag = abs(offset_s) > SKEW_FLAG_S


@write_unit
def heartbeat(kiosk_id: int, queue_depth: int, oldest_unsent_age_s: int | None,
              app_version: str | None, device_clock: float | None,
              received: datetime | None = None) -> Kiosk:
    """Store what the kiosk reports about its queue and version."""
    now = received or utcnow()
    kiosk = lock_kiosk(kiosk_id)
    kiosk.queue_depth = queue_depth
    kiosk.oldest_unsent_age_s = oldest_unsent_age_s
    kiosk.app_version = app_version
    offset = None
    if device_clock is not None:
        offset = observe_clock(kiosk, now.timestamp() - device_clock, now)
    record_contact(kiosk, offset, now)
    return kiosk
