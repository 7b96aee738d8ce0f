"""Two phones submit the same survey at the same moment to a real gunicorn aggregator with two
worker processes on one database: exactly one response is stored (SQLite and PostgreSQL)."""

from __future__ import annotations

import http.cookiejar
import re
import threading
import urllib.error
import urllib.parse
import urllib.request

import pytest
from sqlalchemy import func, select

from core.extensions import db
from core.models import Counter, RollupCount, SurveyResponse
from tests.support.survey import kiosk_token, live_db, make_kiosk

pytestmark = pytest.mark.processes

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
FIELD_RE = re.compile(r'<input type="(radio|checkbox)" name="([^"]+)" value="([^"]+)"')


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Phone:
    """A browser without JavaScript: cookies, GET and form POSTs, redirects seen as answers."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.csrf = ""
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), NoRedirect)

    def request(self, path: str, form: list[tuple[str, str]] | None = None) -> tuple[int, str, str]:
        """GET (no form) or POST the form with the CSRF token of the last page seen."""
        if form is not None:
            form = [*form, ("csrf_token", self.csrf)]
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        req = urllib.request.Request(self.base + path, data=data,
                                     headers={"Accept-Language": "en"})
        try:
            with self.opener.open(req, timeout=30) as response:
                status, location = response.status, response.headers.get("Location", "")
                body = response.read().decode()
        except urllib.error.HTTPError as error:
            status, location = error.code, error.headers.get("Location", "")
            body = error.read().decode()
            error.close()
        found = CSRF_RE.search(body)
        if found:
            self.csrf = found.group(1)
        return status, location, body


def answers(html: str) -> list[tuple[str, str]]:
    first: dict[str, str] = {}
    boxes: list[tuple[str, str]] = []
    for kind, name, value in FIELD_RE.findall(html):
        if kind == "checkbox":
            if len([b for b in boxes if b[0] == name]) < 2:
                boxes.append((name, value))
        else:
            first.setdefault(name, value)
    return [*first.items(), *boxes]


def test_two_phones_submitting_at_once_to_two_workers_store_one_response(live_aggregator):
    with live_db(live_aggregator):
        counter = db.session.scalars(select(Counter).order_by(Counter.id)).first()
        kiosk = make_kiosk(counter)
        tokens = [kiosk_token(kiosk, seq=n) for n in range(1, 4)]
    for token in tokens:
        first, second = Phone(live_aggregator.url), Phone(live_aggregator.url)
        first.request(f"/s/{token}")
        status, location, _ = first.request(f"/s/{token}", [])
        assert status == 303
        for _page in range(1, 7):
            path = urllib.parse.urlsplit(location).path
            _s, _l, html = first.request(path)
            status, location, _ = first.request(path, [*answers(html), ("nav", "next")])
            assert status == 303
        last = urllib.parse.urlsplit(location).path
        assert second.request(last)[0] == 200
        barrier = threading.Barrier(2, timeout=30)
        results: list[int] = []

        def send(phone, path=last, gate=barrier, out=results):
            gate.wait()
            out.append(phone.request(path, [("nav", "submit")])[0])

        threads = [threading.Thread(target=send, args=(p,)) for p in (first, second)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert sorted(results) == [303, 409]
    with live_db(live_aggregator):
        assert db.session.scalar(select(func.count()).select_from(SurveyResponse)) == 3
        assert db.session.scalar(select(func.sum(RollupCount.count)).where(
            RollupCount.item_code == "RESP")) == 3
