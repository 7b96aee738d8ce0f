"""Languages: Vietnamese by default, English on request; locale-aware formatting helpers.

The chosen language (the visible switch stores it in a cookie) beats the browser's Accept-Language.
Each area keeps its own message domain (core, kiosk, survey, admin; the admin domain also
covers public/ and api/) in translations/, so the
catalogs stay small; Flask-Babel merges them into one catalog per language, so a msgid shared by
two areas must have one translation (core.i18n_check reports any that differ).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction
from urllib.parse import urlsplit

from babel.numbers import format_decimal
from flask import Flask, current_app, redirect, request
from flask_babel import format_date, format_datetime, get_locale, refresh

from core.clock import LOCAL_TZ
from core.config import LOCALES
from core.extensions import babel
from core.sipas import round_half_up

LANG_COOKIE = "lang"
DOMAINS = ("core", "kiosk", "survey", "admin")
# The folders each domain's strings are extracted from (the Makefile's SOURCES_<domain> says the
# same): the public page and the JSON API are read by the same people as the administration's.
DOMAIN_SOURCES = {"core": ("core",), "kiosk": ("kiosk",), "survey": ("survey",),
                  "admin": ("admin", "public", "api")}
LANGUAGE_NAMES = {"vi": "Tiếng Việt", "en": "English"}


def select_locale() -> str:
    chosen = request.args.get("lang") or request.cookies.get(LANG_COOKIE)
    if chosen in LOCALES:
        return chosen
    if request.accept_languages and not _shared_screen():
        best = request.accept_languages.best_match(LOCALES)
        if best:
            return best
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def _shared_screen() -> bool:
    """A kiosk screen: its browser's language says nothing about the citizen in front of it, so
    only the citizen's own choice (the switch's cookie) moves it off the default. The counter
    software's local API is a program and may still ask for a language."""
    return request.path.startswith("/kiosk") and not request.path.startswith("/kiosk/api/")


def current_locale() -> str:
    return str(get_locale() or "vi")


def pct(value: float | Fraction | Decimal | None, decimals: int = 2) -> str:
    """A percentage with two decimals in the locale's format: "81,87%" (vi), "81.87%" (en).

    Rounded half up from the exact value by `core.sipas.round_half_up` (the one rounding rule of
    every figure) before Babel formats it, so 90.625 is "90,63%" here as in the API and XLSX
    (Babel alone rounds half to even: "90,62%").
    """
    if value is None:
        return "—"
    return num(value, decimals) + "%"


def num(value: float | int | Fraction | Decimal | None, decimals: int = 0) -> str:
    """A number in the locale's format ("1.234" in Vietnamese, "1,234" in English), rounded half
    up to `decimals` places first."""
    if value is None:
        return "—"
    pattern = "#,##0." + "0" * decimals if decimals else "#,##0"
    rounded = round_half_up(value, decimals)
    return format_decimal(rounded, format=pattern, locale=current_locale())


def fdate(value: date | datetime | None, fmt: str = "medium") -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        return format_datetime(value, fmt)
    return format_date(value, fmt)


def safe_next(target: str | None) -> str:
    """Only same-site relative paths are followed after a language switch (no open redirect)."""
    if not target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


def switch_language(code: str):
    """Store the chosen language and go back to where the person was."""
    response = redirect(safe_next(request.args.get("next")))
    if code in LOCALES:
        response.set_cookie(
            LANG_COOKIE,
            code,
            max_age=365 * 24 * 3600,
            samesite="Lax",
            secure=current_app.config["SESSION_COOKIE_SECURE"],
            httponly=True,
        )
    return response


def init_app(app: Flask) -> None:
    translations = app.root_path.rsplit("/", 1)[0] + "/translations"
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", ";".join([translations] * len(DOMAINS)))
    app.config.setdefault("BABEL_DOMAIN", ";".join(DOMAINS))
    babel.init_app(app, locale_selector=select_locale, timezone_selector=lambda: LOCAL_TZ.key)

    @app.before_request
    def _fresh_locale() -> None:
        # The locale is cached on the app context; an outer context (CLI, tests) must not
        # carry one request's language into the next.
        refresh()

    @app.context_processor
    def _i18n_context():
        return {
            "current_locale": current_locale(),
            "language_names": LANGUAGE_NAMES,
            "locales": LOCALES,
        }

    app.jinja_env.filters["pct"] = pct
    app.jinja_env.filters["num"] = num
    app.jinja_env.filters["fdate"] = fdate
