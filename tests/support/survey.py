"""Helpers for the phone-survey tests: kiosk tokens as a kiosk signs them, and valid answers."""

from __future__ import annotations

import base64
import contextlib
import json
import re
import time
import uuid

from core import create_app
from core.extensions import db
from core.models import Counter, Kiosk
from core.tokens import sign

KIOSK_SECRET = "kiosk-test-secret-0123456789abcdef0123456789"


def make_kiosk(counter: Counter, secret: str = KIOSK_SECRET, status: str = "active") -> Kiosk:
    """A kiosk row for ``counter`` as enrollment leaves it (committed)."""
    kiosk = Kiosk(public_id=str(uuid.uuid4()), unit_id=counter.unit_id, counter_id=counter.id,
                  name="Kiosk " + counter.code, status=status, secret=secret)
    db.session.add(kiosk)
    db.session.commit()
    return kiosk


def kiosk_token(kiosk: Kiosk, rating: str | None = None, *, secret: str | None = None,
                days: float = 7, officer: str | None = None, dossier: str | None = None,
                procedure: str | None = None, seq: int = 1) -> str:
    """The thank-you QR token, with the payload docs/DEVELOPING.md describes ("Survey tokens")."""
    payload = {"t": "k", "k": kiosk.public_id, "r": rating or str(uuid.uuid4()), "s": seq,
               "u": kiosk.unit_id, "c": kiosk.counter_id, "o": officer, "d": dossier,
               "p": procedure, "exp": int(time.time() + days * 86400)}
    return sign(payload, secret or kiosk.secret or "")


def tamper(token: str, **changes) -> str:
    """The token with its payload changed (another rating by default) and the old signature."""
    body, mac = token.split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload.update(changes or {"r": str(uuid.uuid4())})
    raw = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode() + "." + mac


FIELD_RE = re.compile(r'<input type="(radio|checkbox)" name="([^"]+)" value="([^"]+)"')
TEXTAREA_RE = re.compile(r'<textarea id="[^"]+" name="([^"]+)"')


def page_answers(html: str, pick: int = 0, comment: str = "Cảm ơn") -> dict[str, list[str]]:
    """A complete answer for the step page in ``html``: the ``pick``-th option of each question
    (rotating), up to the first two boxes of a checkbox question, and ``comment`` in text areas."""
    options: dict[str, list[tuple[str, str]]] = {}
    for kind, name, value in FIELD_RE.findall(html):
        options.setdefault(name, []).append((kind, value))
    form: dict[str, list[str]] = {}
    for name, choices in options.items():
        if choices[0][0] == "checkbox":
            form[name] = [value for _kind, value in choices[:2]]
        else:
            form[name] = [choices[pick % len(choices)][1]]
    for name in TEXTAREA_RE.findall(html):
        form[name] = [comment]
    return form


def complete_survey(client, token: str, pick: int = 0, comment: str = "Cảm ơn") -> object:
    """Answer every page of the survey through ``client``; returns the last response."""
    response = client.post(f"/s/{token}")
    assert response.status_code == 303, response.status_code
    location = response.headers["Location"]
    for _ in range(30):
        if location.endswith("/thanks"):
            return client.get(location)
        page = client.get(location)
        assert page.status_code == 200, page.status_code
        html = page.get_data(as_text=True)
        nav = "submit" if 'value="submit"' in html else "next"
        form = page_answers(html, pick, comment)
        response = client.post(location, data={**form, "nav": nav})
        assert response.status_code == 303, (response.status_code, location)
        location = response.headers["Location"]
    raise AssertionError("the survey did not end")


@contextlib.contextmanager
def live_db(server):
    """An app context on the live server's database (to make tokens and read results)."""
    app = create_app({
        "SQLALCHEMY_DATABASE_URI": server.env["SIPAS_DATABASE_URL"],
        "INSTANCE_PATH": server.env["SIPAS_INSTANCE_PATH"],
        "SECRET_KEY": server.env["SIPAS_SECRET_KEY"],
        "ROLE": "aggregator",
    }, env={})
    with app.app_context(), app.test_request_context():
        yield app
        db.session.remove()
        db.engine.dispose()
