"""A tiny HTTP client for live kiosk processes: keeps its cookies, never follows redirects."""

from __future__ import annotations

import http.cookiejar
import re
import urllib.error
import urllib.parse
import urllib.request

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


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
