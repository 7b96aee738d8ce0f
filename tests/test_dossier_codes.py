"""One dossier-code rule (core/codes.py): every entry point accepts and refuses the same codes.

The entry points: a kiosk arming a transaction, a kiosk's rating arriving by sync, the reporting
API issuing a dossier survey link, and the phone survey reading the code from a link (a dossier
link the aggregator signed, or a kiosk's thank-you link).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from core.codes import DOSSIER_CODE_MAX, is_dossier_code
from core.extensions import db
from core.models import Counter
from core.services.accounts import api_tokens
from core.services.errors import ServiceError
from core.services.survey import flow as survey
from core.services.survey.links import DOSSIER_PURPOSE, dossier_token
from core.tokens import aggregator_key, sign
from tests.conftest import SECRET
from tests.dashboard_support import user
from tests.support.survey import kiosk_token, make_kiosk
from tests.test_sync_trust import enrolled_kiosk, item, send

ACCEPTED = ["HS-1", "9", "000.00.12.H56-240101-0001", "HS:2024/17", "a_b.c", "X" * DOSSIER_CODE_MAX]
REFUSED = ["", "X" * (DOSSIER_CODE_MAX + 1), "-HS1", ".HS1", "/HS1", "HS 1", "HS\x00", "HS\n1",
           "hồ-sơ-1", "HS;1", "HS#1", "ＨＳ1", "HS-1\n"]


def test_the_rule():
    assert all(is_dossier_code(code) for code in ACCEPTED)
    assert not any(is_dossier_code(code) for code in REFUSED)
    assert not is_dossier_code(None) and not is_dossier_code(17)


def _kiosk_arms(app, code: str) -> bool:
    """What kiosk.staff.arm applies (the staff form and the counter software's API)."""
    from kiosk.staff import DOSSIER_MAX, clean_code

    with app.test_request_context():
        try:
            return clean_code(code, DOSSIER_MAX, required=True) == code
        except ServiceError:
            return False


def _survey_reads(token: str) -> bool:
    try:
        survey.resolve(token)
    except ServiceError as problem:
        assert problem.code == "malformed"
        return False
    return True


def _signed_dossier_link(unit_id: int, code: str) -> str:
    payload = {"t": "d", "a": 1, "u": unit_id, "c": None, "p": None, "d": code, "n": "00",
               "exp": int(time.time()) + 3600}
    return sign(payload, aggregator_key(SECRET, DOSSIER_PURPOSE))


@pytest.mark.parametrize("code,expected", [(c, True) for c in ACCEPTED]
                         + [(c, False) for c in REFUSED])
def test_every_entry_point_accepts_and_refuses_the_same_codes(app, demo, client, code, expected):
    counter = db.session.scalars(select(Counter).order_by(Counter.id)).first()
    manager = user("codes.admin", "admin", None)
    api_key = api_tokens.create(manager, "codes")
    db.session.commit()

    issued = client.post("/api/v1/survey-tokens/dossier",
                         headers={"Authorization": f"Bearer {api_key}"},
                         json={"unit": counter.unit_id, "dossier_code": code})
    assert issued.status_code in (201, 400)

    try:
        dossier_token(counter.unit_id, code)
        issuer = True
    except ServiceError as problem:
        assert problem.code == "invalid_dossier_code"
        issuer = False

    kiosk = make_kiosk(counter)
    at = datetime.now(UTC)
    synced = enrolled_kiosk(client)
    outcome = send(synced, [item(1, at, dossier_code=code)], received=at).outcomes[0]
    assert outcome.reason in (None, "invalid_dossier_code")

    seen = {
        "rule": is_dossier_code(code),
        "kiosk arm": _kiosk_arms(app, code),
        "sync": outcome.reason is None,
        "reporting API": issued.status_code == 201,
        "link issuer": issuer,
        "dossier link": _survey_reads(_signed_dossier_link(counter.unit_id, code)),
        "kiosk link": _survey_reads(kiosk_token(kiosk, dossier=code)),
    }
    assert seen == dict.fromkeys(seen, expected)
