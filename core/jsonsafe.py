"""JSON from outside, parsed so that no body can crash a view.

``json.loads`` raises ``RecursionError`` (not ``ValueError``) on 100,000 nested arrays, which
became a 500 wherever a view caught only ``ValueError``; duplicate keys silently kept the last
value (so a signature checker and a reader could disagree), and ``1e999`` or ``NaN`` became
floats no column can store. Here each of these is a ``ValueError`` like any malformed body. The
app's JSON provider (``request.get_json``) and the sync API use it.
"""

from __future__ import annotations

import json
import math
from typing import Any

from flask.json.provider import DefaultJSONProvider


class UnsafeJSON(ValueError):
    """The body is JSON a view must not act on; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise UnsafeJSON("duplicate_key")
    return result


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise UnsafeJSON("number_out_of_range")
    return value


def _constant(name: str) -> Any:
    raise UnsafeJSON("number_out_of_range")


def loads(data: str | bytes | bytearray) -> Any:
    """The parsed value, or ``ValueError`` for anything malformed, too deep, duplicated or huge
    (integers beyond Python's 4,300-digit limit already raise ``ValueError``)."""
    try:
        return json.loads(data, object_pairs_hook=_pairs, parse_float=_float,
                          parse_constant=_constant)
    except RecursionError:
        raise UnsafeJSON("too_deep") from None


class SafeJSONProvider(DefaultJSONProvider):
    """Flask's JSON provider with ``loads`` above, so ``request.get_json`` is safe everywhere."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return loads(s)
