"""A tiny HTTP client for live kiosk processes: keeps its cookies, never follows redirects."""

from __future__ import annotations

import http.cookiejar
import re
import urllib.error
import urllib.parse
import urllib.request

# Hand-written forms (name, value) and Flask-WTF's (name, type, value) alike.
CSRF_RE = re.compile(r'name="csrf_token"[^>]*?value="([^"]+)"')


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


class KioskClient:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect())
        self.token: str | None = None

    def request(self, method: str, path: str, data: dict | None = None,
                timeout: float = 10) -> tuple[int, str, dict[str, str]]:
        body = urllib.parse.urlencode(data or {}, doseq=True).encode() if data is not None else None
        request = urllib.request.Request(self.base_url + path, data=body, method=method)
        try:
            with self.opener.open(request, timeout=timeout) as response:
                return response.status, response.read().decode(), dict(response.headers)
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(), dict(error.headers)

    def open_idle(self) -> str:
        """Load the idle screen and keep its CSRF token, as the kiosk's browser does."""
        status, html, _headers = self.request("GET", "/kiosk/")
        assert status == 200, status
        match = CSRF_RE.search(html)
        assert match, "idle screen has no CSRF token"
        self.token = match.group(1)
        return html

    def tap(self, level: int) -> tuple[int, str]:
        """Tap a button; returns the status and the Location of the next screen."""
        status, _html, headers = self.request(
            "POST", "/kiosk/rate", {"level": str(level), "csrf_token": self.token or ""})
        return status, headers.get("Location", "")


class Page:
    """One answer, read the way the Flask test client's answers are (for shared helpers)."""

    def __init__(self, status: int, body: str, headers: dict[str, str]) -> None:
        self.status_code = status
        self.body = body
        self.headers = headers

    def get_data(self, as_text: bool = False) -> str | bytes:
        return self.body if as_text else self.body.encode()


class LiveBrowser(KioskClient):
    """A phone's browser against a live server: ``get``/``post`` like the Flask test client, so
    ``tests.support.survey.complete_survey`` runs unchanged over HTTP. Absolute URLs (a QR
    code's) are accepted; every post carries the CSRF token of the session's last page."""

    def _path(self, url: str) -> str:
        return url[len(self.base_url):] if url.startswith(self.base_url) else url

    def get(self, url: str) -> Page:
        status, body, headers = self.request("GET", self._path(url))
        match = CSRF_RE.search(body)
        if match:
            self.token = match.group(1)
        return Page(status, body, headers)

    def post(self, url: str, data: dict | None = None) -> Page:
        if self.token is None:
            self.get(url)  # the page this form is on, for its session and CSRF token
        status, body, headers = self.request(
            "POST", self._path(url), {**(data or {}), "csrf_token": self.token or ""})
        return Page(status, body, headers)
