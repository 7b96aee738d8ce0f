"""The dossier code (mã hồ sơ): the one rule every entry point applies.

A dossier code names one case file of the one-stop office. It arrives at a kiosk (armed by the
counter's software or by staff), in a rating a kiosk syncs, in a survey link a kiosk or the
aggregator signs, and in the reporting API that issues a dossier survey link; all of them accept
exactly the codes ``is_dossier_code`` accepts (docs/METHOD.md, "Dossier codes"):

- 1 to 64 characters (the sync protocol's field limit, ``core.protocol.TEXT_FIELDS``, and the
  columns that store it);
- ASCII letters and digits, and the separators ``. _ : / -`` that case-management systems use
  (``000.00.12.H56-240101-0001``, ``HS:2024/17``);
- starting with a letter or a digit.

Pure: no Flask, no database (the kiosk imports it too).
"""

from __future__ import annotations

import re
from typing import Any

from core.protocol import TEXT_FIELDS

DOSSIER_CODE_MAX = TEXT_FIELDS["dossier_code"]
# The characters of a code typed or sent at a counter (the kiosk applies them to procedure
# codes too); written for JSON Schema as well as for ``re``.
CODE_PATTERN = r"^[0-9A-Za-z][0-9A-Za-z._:/\-]*$"
CODE_CHARACTERS = re.compile(CODE_PATTERN.strip("^$"))


def is_dossier_code(value: Any) -> bool:
    """True when ``value`` is a dossier code by the rule above (exactly: no trimming)."""
    return (
        isinstance(value, str)
        and len(value) <= DOSSIER_CODE_MAX
        and CODE_CHARACTERS.fullmatch(value) is not None
    )
