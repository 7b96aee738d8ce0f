"""No token lives for ever: signed survey tokens must carry an expiry within the lifetime the
server allows, API tokens expire after SIPAS_API_TOKEN_DAYS, enrollment codes after their hours."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from core.extensions import db
from core.models import ApiToken, Counter
from core.services.accounts import api_tokens
from core.services.errors import ServiceError
from core.services.survey import flow as service
from core.services.survey.links import DOSSIER_PURPOSE
from core.services.sync import registry
from core.tokens import SignedTokenError, aggregator_key, sign, verify
from tests.conftest import SECRET
from tests.support.admin import build_org, use_cheap_hashing
from tests.support.survey import make_kiosk

YEAR_2100 = 4_102_444_800  # 2100-01-01 UTC


@pytest.fixture
def kiosk(demo):
    return make_kiosk(db.session.scalars(select(Counter).order_by(Counter.id)).first())


def kiosk_payload(kiosk, **extra) -> dict:
    return {"t": "k", "k": kiosk.public_id, "r": str(uuid.uuid4()), "s": 1, "u": kiosk.unit_id,
            "c": kiosk.counter_id, "o": None, "d": None, "p": None, **extra}


def test_a_token_without_an_expiry_is_refused():
    """Found: verify() skipped the check when ``exp`` was absent, so such a token never expired."""
    with pytest.raises(SignedTokenError) as problem:
        verify(sign({"t": "p", "u": 1}, "k" * 32), "k" * 32)
    assert problem.value.reason == "malformed"


def test_a_kiosk_token_without_an_expiry_opens_no_survey(kiosk):
    with pytest.raises(ServiceError) as problem:
        service.resolve(sign(kiosk_payload(kiosk), kiosk.secret))
    assert problem.value.code == "malformed"


def test_a_kiosk_token_valid_for_decades_opens_no_survey(kiosk):
    """A kiosk signs for SURVEY_TOKEN_DAYS; a token for 2100 is not one it should have made."""
    with pytest.raises(ServiceError):
        service.resolve(sign(kiosk_payload(kiosk, exp=YEAR_2100), kiosk.secret))


def test_an_aggregator_token_without_an_expiry_is_refused(demo):
    counter = db.session.scalars(select(Counter).order_by(Counter.id)).first()
    token = sign({"t": "d", "a": 1, "u": counter.unit_id, "d": "HS-1", "n": "ab"},
                 aggregator_key(SECRET, DOSSIER_PURPOSE))
    with pytest.raises(ServiceError) as problem:
        service.resolve(token)
    assert problem.value.code == "malformed"


def test_an_api_token_expires_after_the_configured_days(demo, app, monkeypatch):
    """Found: API tokens had no expiry at all."""
    use_cheap_hashing(monkeypatch)
    org = build_org()
    secret = api_tokens.create(org.manager, "old")
    assert api_tokens.authenticate(secret) is not None
    token = db.session.scalar(select(ApiToken).where(ApiToken.name == "old"))
    token.created_at = datetime(2020, 1, 1, tzinfo=UTC)
    db.session.commit()
    assert app.config["API_TOKEN_DAYS"] == 365
    assert api_tokens.authenticate(secret) is None
    assert api_tokens.expires_at(token) == datetime(2020, 12, 31, tzinfo=UTC)


def test_the_api_token_lifetime_is_a_setting(tmp_path):
    from core.config import load

    settings = load({"SIPAS_API_TOKEN_DAYS": "30"},
                    {"INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "k" * 40})
    assert settings["API_TOKEN_DAYS"] == 30


def test_an_enrollment_code_without_an_expiry_enrolls_nothing(demo):
    done = registry.register(registry.find_counter("T-DEMO-TTHCC", "Q01"), "Kiosk")
    done.kiosk.enrollment_expires_at = None
    db.session.commit()
    with pytest.raises(ServiceError, match=r"invalid_code|code_expired"):
        registry.enroll(done.code)
