"""Hostile and careless input: every route answers a clear 4xx, changes nothing, leaks nothing.

The routes are read from ``app.url_map`` at test time, so a blueprint merged later is covered
without editing this file. Each rule and method is requested as anonymous, viewer, manager and
administrator with path arguments that are real, belong to another unit, are out of range or
are not even of the right type; query strings and bodies carry missing, extra, NUL, oversized,
badly encoded, oddly written and out-of-range values. For every response:

- the status is below 500, and the body has no stack trace or exception class name;
- an HTML error page is in Vietnamese by default (English with the language cookie);
- a JSON error under /api/ is ``{"error": {"status", "message"}}``;
- a refused POST leaves every table's row count as it was (see ``UNCOUNTED`` for the tables a
  refused attempt is expected to touch);
- the security headers are present, also on errors and static files.

The inputs are representative values per parameter, not the full cartesian product, so the
module stays within a minute or so on SQLite.
"""

from __future__ import annotations

import contextlib
import functools
import html
import inspect
import json
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import ClassVar
from urllib.parse import quote

import pytest
from sqlalchemy import func, select
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.routing import IntegerConverter, PathConverter, Rule

from core.extensions import db
from core.models import ApiToken, Procedure, Questionnaire, User
from core.services.accounts import api_tokens
from tests.support.admin import build_org, sign_in, use_cheap_hashing

# Tables a refused request may legitimately add rows to:
# - audit_log: a failed sign-in, a wrong kiosk PIN and similar refused attempts are audited on
#   purpose (that record is what lets an administrator see a guessing attack);
# - sync_nonces: the signed sync API remembers each request nonce it has checked, so a
#   replayed request is refused even when the first one was refused for another reason.
UNCOUNTED = frozenset({"audit_log", "sync_nonces"})

ROLES = ("anonymous", "viewer", "manager", "admin")
LEAK_RE = re.compile(
    r"Traceback|File \"/|\b(?:[A-Z][a-z]+){1,4}(?:Error|Exception)\b|sqlalchemy|psycopg|werkzeug\."
    r"|jinja2|\bline \d+, in\b"
)
VIETNAMESE = "Nguyê\u0303n Thi\u0323 La\u0300n ĐỨC"  # combining marks, not precomposed
LONG = "A" * 5000
BIG = "x" * 100_000
HUGE_INT = str(2**63)

# Path values that match an <int:...> converter (reach the view) and those that do not (the
# router answers); string and path converters get the traversal and encoding tricks.
INT_IN_RANGE = ("0", str(2**31 - 1), str(2**31), str(2**63 - 1), HUGE_INT, "9" * 40)
INT_NOT_MATCHING = ("-1", "abc", "1.5", "%00", quote(VIETNAMESE))
STRING_VALUES = (
    "..%2F..%2Fetc%2Fpasswd", "%00", quote(LONG), quote(VIETNAMESE), quote("<script>x</script>"),
    quote("' OR 1=1 --"), "%FF%FE",
)
PATH_VALUES = ("../../etc/passwd", "..%2F..%2Fsecret_key", "%00", quote(LONG), quote(VIETNAMESE),
               "%FF%FE")

# Scalar values for query strings and form fields (one payload sets every field to one value).
SCALARS = {
    "nul": "a\x00b",
    "big": BIG,
    "spaced": " 12 ",
    "arabic_digits": "١٢٣",
    "superscript": "²",  # str.isdigit() says yes, int() says no
    "negative": "-1",
    "huge": "9" * 30,
    "float": "1e309",
    "date_min": "0001-01-01",
    "date_max": "9999-12-31",
    "date_bad": "2026-02-30",
    "vietnamese": VIETNAMESE,
    "markup": "<script>alert(1)</script>",
}
NON_OBJECT_JSON = ("[]", '"text"', "1", "null", "[{\"a\": 1}]", "{", '{"a": NaN}')
FIELD_NAME_RE = re.compile(
    r"(?:args|form|values)\.(?:get|getlist|get_all)\(\s*[\"']([A-Za-z_][\w-]*)[\"']")
# Letters only Vietnamese uses: a page or message in Vietnamese has some.
VI_LETTERS_RE = re.compile("[ăâđêôơưĂÂĐÊÔƠƯạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ]")
HTML_NAME_RE = re.compile(r'<(?:input|select|textarea)[^>]*\bname="([^"]+)"')
INPUT_RE = re.compile(r"<input\b[^>]*>")
SELECT_RE = re.compile(r'<select\b[^>]*\bname="([^"]+)"[^>]*>.*?<option[^>]*value="([^"]*)"', re.S)
ATTR_RE = re.compile(r'\b(name|value|type)="([^"]*)"')
# One field at a time is set to each of these, the others keep the page's own values.
ONE_FIELD = ("nul", "big", "huge", "superscript")


@dataclass
class World:
    """Ids of the seeded organisation and a way to act as each role."""

    users: dict[str, tuple[int, str]]  # role -> (user id, password hash)
    bearer: dict[str, str]  # role -> API token
    real: dict[str, str]
    other: dict[str, str]
    problems: list[str] = field(default_factory=list)
    kiosk_secret: tuple[str, str] = ("", "")  # (public id, secret): signs sync requests


def _world(monkeypatch) -> World:
    use_cheap_hashing(monkeypatch)
    org = build_org()
    from tests.support.survey import kiosk_token, make_kiosk

    kiosk = make_kiosk(org.counter)
    token = kiosk_token(kiosk)
    users = {"viewer": org.viewer, "manager": org.manager, "admin": org.admin}
    bearer = {role: api_tokens.create(user, "hostile") for role, user in users.items()}
    db.session.commit()  # the service flushes; the test commits
    procedure = db.session.scalar(select(Procedure.id).order_by(Procedure.id))
    questionnaire = db.session.scalar(select(Questionnaire.id).order_by(Questionnaire.id))
    api_token = db.session.scalar(select(ApiToken.id).where(ApiToken.user_id == org.manager.id))
    real = {
        "unit_id": str(org.centre.id), "counter_id": str(org.counter.id),
        "officer_id": str(org.officer.id), "user_id": str(org.viewer.id),
        "procedure_id": str(procedure), "questionnaire_id": str(questionnaire),
        "token_id": str(api_token), "response_id": "1", "kiosk_id": kiosk.public_id,
        "code": org.centre.code, "token": token, "by": "counter", "kind": "ratings",
        "action": "hide", "number": "1", "filename": "css/app.css",
    }
    other = {
        "unit_id": str(org.district.id), "counter_id": str(org.other_counter.id),
        "officer_id": str(org.other_officer.id), "user_id": str(org.other_viewer.id),
        "code": org.district.code,
    }
    return World(
        users={role: (user.id, user.password_hash) for role, user in users.items()},
        bearer=bearer, real=real, other=other,
        kiosk_secret=(kiosk.public_id, kiosk.secret or ""),
    )


def routes(app) -> list[Rule]:
    """Every rule of the app, in a stable order."""
    return sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint))


def methods(rule: Rule) -> list[str]:
    return sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})


def is_static(rule: Rule) -> bool:
    return rule.endpoint == "static" or rule.endpoint.endswith(".static")


def build(rule: Rule, values: dict[str, str]) -> str:
    """The rule's path with each argument replaced by an already URL-encoded value."""

    def repl(match: re.Match) -> str:
        return values[match.group("name")]

    return re.sub(r"<(?:[^:<>]+:)?(?P<name>[^<>]+)>", repl, rule.rule)


def real_values(rule: Rule, world: World, other: bool = False) -> dict[str, str]:
    source = world.other if other else {}
    return {name: quote(source.get(name) or world.real.get(name) or "1", safe="/")
            for name in rule.arguments}


def converter(rule: Rule, name: str) -> str:
    """"int", "path" or "string": how the rule's argument is matched."""
    matcher = rule._converters[name]
    if isinstance(matcher, IntegerConverter):
        return "int"
    return "path" if isinstance(matcher, PathConverter) else "string"


def field_names(app, rule: Rule, page_html: str | None) -> list[str]:
    """The parameter names a view reads: from its module's source and from its own form."""
    view = app.view_functions[rule.endpoint]
    module = sys.modules.get(inspect.unwrap(view).__module__)
    names: set[str] = set()
    with contextlib.suppress(OSError, TypeError):  # no source (a compiled or built-in view)
        names.update(FIELD_NAME_RE.findall(inspect.getsource(module)) if module else [])
    if page_html:
        names.update(HTML_NAME_RE.findall(page_html))
    names.update(openapi_names(rule))
    names.discard("csrf_token")
    return sorted(names)


def openapi_names(rule: Rule) -> set[str]:
    """Query parameters and body properties a JSON endpoint documents in OpenAPI."""
    from api.openapi import document

    path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
    names: set[str] = set()
    for operation in document().get("paths", {}).get(path, {}).values():
        names.update(p["name"] for p in operation.get("parameters", []) if "name" in p)
        content = operation.get("requestBody", {}).get("content", {})
        for media in content.values():
            names.update(media.get("schema", {}).get("properties", {}))
    return names


# --- the client and the checks -----------------------------------------------------------------


class Probe:
    """Sends requests as one role and checks every answer."""

    def __init__(self, app, world: World, *, lang: str | None = None) -> None:
        self.app = app
        self.world = world
        self.client = app.test_client()
        self.lang = lang
        self.sent = 0
        if lang:
            self.client.set_cookie("lang", lang)

    def act_as(self, role: str) -> None:
        self.role = role
        with self.client.session_transaction() as session:
            session.clear()
        if role != "anonymous":
            uid, pw_hash = self.world.users[role]
            user = db.session.get(User, uid)
            sign_in(self.client, user)
            del pw_hash

    def request(self, method: str, url: str, *, check_rows: bool | None = None,
                label: str = "", **kwargs):
        if self.role != "anonymous" and url.startswith("/api/"):
            kwargs.setdefault("headers", {})["Authorization"] = "Bearer " + self.world.bearer[
                self.role]
        if self.role != "anonymous":
            self.act_as(self.role)  # a logout or a disabled account in a previous request
        check_rows = method == "POST" if check_rows is None else check_rows
        before = row_counts() if check_rows else None
        response = self.client.open(url, method=method, **kwargs)
        db.session.remove()  # as at the end of a real request: nothing pending carries over
        self.sent += 1
        self.check(method, f"{url} [{label}]" if label else url, response, before)
        response.close()  # static files are streamed from an open file
        return response

    def problem(self, method: str, url: str, status: int, what: str) -> None:
        shown = url if len(url) < 160 else url[:60] + "…" + url[-90:]
        self.world.problems.append(f"{self.role:9} {method:4} {shown} -> {status}: {what}")

    def check(self, method: str, url: str, response, before: dict[str, int] | None) -> None:
        status = response.status_code
        body = response.get_data(as_text=False)
        text = body.decode("utf-8", "replace")
        ctype = response.headers.get("Content-Type", "")
        if status >= 500:
            self.problem(method, url, status, "server error")
        for problem in header_problems(response, url):
            self.problem(method, url, status, problem)
        # The OpenAPI document names its error schemas ("SyncError"); that is no stack trace.
        documented = url.startswith("/api/v1/openapi.json")
        if not is_static_url(url) and not documented and (leak := LEAK_RE.search(text)):
            self.problem(method, url, status, f"leaks {leak.group(0)!r}")
        lang = self.lang or "vi"
        if status >= 400 and ctype.startswith("text/html"):
            if f'<html lang="{lang}"' not in text:
                self.problem(method, url, status, f"error page not in {lang}")
            elif lang == "vi" and not VI_LETTERS_RE.search(visible_text(text)):
                self.problem(method, url, status, "error page without Vietnamese text")
        if status >= 400 and url.startswith("/api/"):
            problem = json_error_problem(body, status, lang)
            if problem:
                self.problem(method, url, status, problem)
        if before is not None and status >= 400:
            after = row_counts()
            changed = {t: (before[t], after[t]) for t in before if before[t] != after[t]}
            if changed:
                self.problem(method, url, status, f"refused but changed rows {changed}")


def is_static_url(url: str) -> bool:
    return "/static/" in url or "-static/" in url


def header_problems(response, url: str) -> Iterator[str]:
    headers = response.headers
    csp = headers.get("Content-Security-Policy", "")
    script = next((d for d in csp.split(";") if d.strip().startswith(("script-src",
                                                                       "default-src"))), "")
    if "script-src 'self'" not in csp or "'unsafe-inline'" in script or "unsafe-eval" in csp:
        yield f"CSP without a strict script-src: {csp!r}"
    if "frame-ancestors 'none'" not in csp:
        yield "CSP without frame-ancestors 'none'"
    if headers.get("X-Content-Type-Options") != "nosniff":
        yield "no X-Content-Type-Options: nosniff"
    if not headers.get("Referrer-Policy"):
        yield "no Referrer-Policy"
    path = url.split("?", 1)[0]
    private = (path.startswith(("/admin", "/s/", "/kiosk/staff", "/kiosk/status"))
               and not is_static_url(path))
    if private and "no-store" not in headers.get("Cache-Control", ""):
        yield "private page without Cache-Control: no-store"


def visible_text(page: str) -> str:
    return re.sub(r"<[^>]+>", " ", page.split("<main", 1)[-1])


def json_error_problem(body: bytes, status: int, lang: str) -> str | None:
    try:
        data = json.loads(body)
    except ValueError:
        return "API error is not JSON"
    error = data.get("error") if isinstance(data, dict) else None
    if not isinstance(error, dict) or error.get("status") != status:
        return f"API error without error.status: {body[:120]!r}"
    if not isinstance(error.get("message"), str) or not error["message"].strip():
        return "API error without a message"
    if lang == "vi" and not VI_LETTERS_RE.search(error["message"]):
        return f"API error not in Vietnamese: {error['message']!r}"
    return None


def row_counts() -> dict[str, int]:
    """Committed rows per table, read on a connection of its own (sees only committed data)."""
    tables = [t for t in db.metadata.sorted_tables if t.name not in UNCOUNTED]
    query = select(*[select(func.count()).select_from(t).scalar_subquery().label(t.name)
                     for t in tables])
    with db.engine.connect() as conn:
        row = conn.execute(query).one()
    return dict(zip([t.name for t in tables], row, strict=True))


def report(world: World, sent: int) -> None:
    problems = sorted(set(world.problems))
    assert not problems, f"{len(problems)} problems in {sent} requests:\n" + "\n".join(
        problems[:80])


# --- inputs ------------------------------------------------------------------------------------


@functools.cache
def _quoted(value: str) -> str:
    return quote(value)  # the 100 KB value is quoted once, not once per field and request


def encoded(pairs: Iterable[tuple[str, str]]) -> str:
    return "&".join(f"{_quoted(k)}={_quoted(v)}" for k, v in pairs)


def payloads(names: list[str], full: bool) -> Iterator[tuple[str, str]]:
    """(label, url-encoded body or query) pairs: each sets every field one hostile way."""
    yield "missing", ""
    yield "extra", encoded([(n, "1") for n in names] + [("zzz_extra", "1"), ("__class__", "x")])
    yield "invalid_utf8", "&".join(f"{quote(n)}=%FF%FE%C0%AF" for n in names) or "x=%FF"
    yield "array", encoded([(n, v) for n in names for v in ("1", "2")])
    chosen = SCALARS if full else {k: SCALARS[k] for k in ("nul", "huge", "date_bad")}
    for label, value in chosen.items():
        yield label, encoded([(n, value) for n in names])


def baseline(page_html: str | None) -> dict[str, str]:
    """The values a form shows on its page (inputs' values, each select's first option)."""
    values: dict[str, str] = {}
    if not page_html:
        return values
    for tag in INPUT_RE.findall(page_html):
        attrs = dict(ATTR_RE.findall(tag))
        if attrs.get("name") and attrs.get("type") not in ("submit", "checkbox", "radio"):
            values.setdefault(html.unescape(attrs["name"]), html.unescape(attrs.get("value", "")))
    for name, value in SELECT_RE.findall(page_html):
        values.setdefault(html.unescape(name), html.unescape(value))
    values.pop("csrf_token", None)
    return values


def one_field_payloads(names: list[str], base: dict[str, str],
                       labels: tuple[str, ...] = ONE_FIELD) -> Iterator[tuple[str, str]]:
    """The page's own values with one field made hostile (so validation of the rest passes)."""
    for name in names:
        for label in labels:
            yield f"{name}={label}", encoded([*((k, v) for k, v in base.items() if k != name),
                                              (name, SCALARS[label])])
        yield f"{name}=array", encoded([*((k, v) for k, v in base.items() if k != name),
                                        (name, "1"), (name, "2")])


def json_post_rules() -> set[str]:
    """Werkzeug rules of the POST endpoints documented as taking a JSON body."""
    from api.openapi import document

    rules = set()
    for path, operations in document().get("paths", {}).items():
        if "application/json" in operations.get("post", {}).get("requestBody", {}).get(
                "content", {}):
            rules.add(re.sub(r"\{([^}]+)\}", r"<\1>", path))
    return rules


def json_body(names: list[str], label: str) -> str:
    """A JSON object whose fields all carry the payload's kind of value (as JSON types)."""
    kind = label.split("=")[-1]
    value: object = {"missing": None, "array": [1, 2], "huge": 10**30, "negative": -1,
                     "float": 1e308, "extra": {"a": 1}}.get(kind, SCALARS.get(kind, True))
    return json.dumps({n: value for n in names} | {"zzz_extra": [None]})


def path_variants(rule: Rule, world: World) -> Iterator[tuple[str, str]]:
    """(label, url) pairs that reach the view with odd but well-typed arguments."""
    yield "real", build(rule, real_values(rule, world))
    if any(name in world.other for name in rule.arguments):
        yield "other unit", build(rule, real_values(rule, world, other=True))
    for name in rule.arguments:
        kind = converter(rule, name)
        values = INT_IN_RANGE if kind == "int" else (
            PATH_VALUES if kind == "path" else STRING_VALUES)
        for value in values:
            yield f"{name}={value[:20]}", build(rule, {**real_values(rule, world), name: value})


def unmatched_variants(rule: Rule, world: World) -> Iterator[str]:
    """URLs whose integer arguments do not match the converter: the router's 404."""
    for name in rule.arguments:
        if converter(rule, name) == "int":
            for value in INT_NOT_MATCHING:
                yield build(rule, {**real_values(rule, world), name: value})


# --- the tests ---------------------------------------------------------------------------------


@pytest.fixture
def world(demo, monkeypatch) -> World:
    return _world(monkeypatch)


@pytest.mark.parametrize("role", ROLES)
def test_every_route_with_odd_path_arguments(app, world, role):
    """Real ids, other units' ids, 0, 2**63, traversal, NUL, long and Vietnamese arguments."""
    probe = Probe(app, world)
    probe.act_as(role)
    for rule in routes(app):
        for method in methods(rule):
            for label, url in path_variants(rule, world):
                probe.request(method, url, label=label)
            if role == "anonymous":
                for url in unmatched_variants(rule, world):
                    probe.request(method, url)
    report(world, probe.sent)


@pytest.mark.parametrize("role", ROLES)
def test_every_route_with_hostile_query_and_form(app, world, role):
    """Missing, extra, NUL, 100 KB, invalid UTF-8, odd digits, odd dates and arrays."""
    probe = Probe(app, world)
    probe.act_as(role)
    for rule in routes(app):
        if is_static(rule):
            continue
        url = build(rule, real_values(rule, world))
        page = None
        if "GET" in methods(rule):
            response = probe.request("GET", url)
            if response.status_code == 200 and response.mimetype == "text/html":
                page = response.get_data(as_text=True)
        names = field_names(app, rule, page)
        json_rules = json_post_rules()
        variants = list(payloads(names, full=role == "admin"))
        for method in methods(rule):
            one_field = []
            if role == "admin":
                # A 100 KB query string per field adds nothing the all-fields payload lacks.
                labels = ONE_FIELD if method == "POST" else tuple(
                    x for x in ONE_FIELD if x != "big")
                one_field = list(one_field_payloads(names, baseline(page), labels))
            for label, data in variants + one_field:
                if method == "POST" and rule.rule in json_rules:
                    probe.request("POST", url, data=json_body(names, label), label=label,
                                  content_type="application/json")
                if method == "GET":
                    probe.request("GET", f"{url}?{data}", label=label)
                else:
                    probe.request(method, url, data=data, label=label,
                                  content_type="application/x-www-form-urlencoded")
    report(world, probe.sent)


def post_rules(app) -> list[Rule]:
    return [r for r in routes(app) if "POST" in methods(r)]


@pytest.mark.parametrize("role", ("anonymous", "admin"))
def test_every_post_with_bodies_that_are_not_a_form(app, world, role):
    """JSON that is not an object or not JSON at all, wrong content types, stray files."""
    probe = Probe(app, world)
    probe.act_as(role)
    bodies = [(f"json {b[:10]}", b, "application/json") for b in NON_OBJECT_JSON]
    bodies += [
        ("json object of arrays", json.dumps({n: [1, {"a": None}] for n in (
            "dossier_code", "unit", "counter_id", "procedure_id", "level", "name")}),
         "application/json"),
        ("json as text", '{"dossier_code": "A1", "unit": 1}', "text/plain"),
        ("xml", "<?xml version='1.0'?><a>&lt;</a>", "application/xml"),
        ("binary", b"\x00\xff\xfe" * 100, "application/octet-stream"),
        ("form labelled utf-16", "a=1".encode("utf-16"),
         "application/x-www-form-urlencoded; charset=utf-16"),
        ("broken multipart", b"--x\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1",
         "multipart/form-data; boundary=x"),
        ("multipart without boundary", b"a=1", "multipart/form-data"),
    ]
    for rule in post_rules(app):
        url = build(rule, real_values(rule, world))
        for label, body, ctype in bodies:
            probe.request("POST", url, data=body, content_type=ctype, label=label)
    report(world, probe.sent)


def test_every_post_with_an_oversized_body_is_413(app, world, app_factory):
    """A body above MAX_CONTENT_LENGTH is refused before any view reads it."""
    limit = 16 * 1024
    small = app_factory(MAX_CONTENT_LENGTH=limit)
    probe = Probe(small, world)
    probe.act_as("admin")
    for rule in post_rules(small):
        url = build(rule, real_values(rule, world))
        for ctype, body in (("application/x-www-form-urlencoded", "a=" + "x" * limit),
                            ("application/json", json.dumps({"a": "x" * limit}))):
            response = probe.request("POST", url, data=body, content_type=ctype, label=ctype)
            if response.status_code != 413:
                probe.problem("POST", url, response.status_code, f"{ctype}: not 413")
    report(world, probe.sent)


def csrf_exempt(app, rule: Rule) -> bool:
    """Whether Flask-WTF skips the CSRF check for the rule's view (API clients sign instead)."""
    csrf = app.extensions["csrf"]
    view = app.view_functions[rule.endpoint]
    blueprint = rule.endpoint.rsplit(".", 1)[0] if "." in rule.endpoint else None
    return (f"{view.__module__}.{view.__name__}" in csrf._exempt_views
            or app.blueprints.get(blueprint) in csrf._exempt_blueprints)


@pytest.mark.parametrize("role", ("anonymous", "manager"))
def test_every_post_without_a_valid_csrf_token_is_refused(world, app_factory, role):
    """CSRF on: no token, or a forged one, is a 400 with the reason and changes nothing."""
    guarded = app_factory(WTF_CSRF_ENABLED=True)
    probe = Probe(guarded, world)
    probe.act_as(role)
    checked = 0
    for rule in post_rules(guarded):
        url = build(rule, real_values(rule, world))
        exempt = csrf_exempt(guarded, rule)
        for label, data in (("no token", {"name": "x"}),
                            ("forged token", {"name": "x", "csrf_token": "IjEi.forged.x"})):
            response = probe.request("POST", url, data=data, label=label)
            if not exempt:
                checked += 1
                if response.status_code != 400:
                    probe.problem("POST", url, response.status_code, f"{label}: not refused")
    assert checked >= 20  # the admin, kiosk and survey forms are all guarded
    report(world, probe.sent)


class _RecordingArgs(ImmutableMultiDict):
    """Query arguments that remember every name a view (or a helper it calls) asks for."""

    asked: ClassVar[set[str]] = set()

    def __getitem__(self, key):
        self.asked.add(key)
        return super().__getitem__(key)

    def __contains__(self, key):
        self.asked.add(key)
        return super().__contains__(key)

    def getlist(self, key, type=None):
        self.asked.add(key)
        return super().getlist(key, type=type)


def asked_names(app) -> set[str]:
    """Install the recording query arguments on ``app``; returns the set they fill."""

    class Recording(app.request_class):
        parameter_storage_class = _RecordingArgs

    app.request_class = Recording
    return _RecordingArgs.asked


@pytest.mark.parametrize("role", ROLES)
def test_a_nul_in_any_query_argument_of_any_get_is_a_4xx(app, world, role):
    """Each name a GET reads (recorded as the view runs, so ``?after=`` read by a shared helper
    counts) gets a NUL alone; PostgreSQL cannot compare text with a NUL, so it must never reach
    a query. Found: ``?after=`` of the admin lists was a 500 on PostgreSQL."""
    asked = asked_names(app)
    probe = Probe(app, world)
    probe.act_as(role)
    for rule in routes(app):
        if is_static(rule) or "GET" not in methods(rule):
            continue
        url = build(rule, real_values(rule, world))
        asked.clear()
        response = probe.request("GET", url)
        page = response.get_data(as_text=True) if response.mimetype == "text/html" else None
        for name in sorted(asked | set(field_names(app, rule, page)) | {"after"}):
            response = probe.request("GET", f"{url}?{quote(name)}=a%00b", label=name)
            if not 400 <= response.status_code < 500:
                probe.problem("GET", url, response.status_code, f"NUL in ?{name}=: not a 4xx")
    report(world, probe.sent)


NESTED_SMALL = b"[" * 2_000 + b"]" * 2_000  # fits the 4 KB limit of enroll and heartbeat
NESTED_DEEP = b"[" * 100_000 + b"]" * 100_000
HOSTILE_JSON = {
    "nested arrays (2,000)": NESTED_SMALL,
    "nested arrays (100,000)": NESTED_DEEP,
    "nested objects": b'{"a":' * 1_500 + b"1" + b"}" * 1_500,
    "nested in a field": b'{"code": ' + NESTED_SMALL[:1600] + b', "ratings": '
                         + NESTED_SMALL[:1600] + b"}",
    "huge integer": b'{"code": ' + b"9" * 5_000 + b', "ratings": [], "queue_depth": 1}',
    "huge float": b'{"code": 1e999999, "dossier_code": -1e999999, "queue_depth": 1e400}',
    "duplicate keys": b'{"code": "ABCDE-12345", "code": "X", "ratings": [], "ratings": [], '
                      b'"queue_depth": 1, "queue_depth": 2, "dossier_code": "A", '
                      b'"dossier_code": "B", "unit": 1, "unit": 2}',
    "NaN": b'{"queue_depth": NaN, "device_clock": Infinity, "code": -Infinity}',
}


@pytest.mark.parametrize("role", ("anonymous", "admin"))
def test_every_json_endpoint_refuses_deep_huge_and_duplicated_json_with_a_4xx(app, world, role):
    """Deeply nested, huge-number and duplicate-key bodies, signed like a kiosk's where the
    endpoint wants a signature: a 4xx with a reason, nothing stored. Found: 100,000 nested
    arrays were a 500 (RecursionError) on enroll, push and the dossier-token endpoint."""
    from kiosk.identity import Credentials
    from tests.support.sync_helpers import signature_headers

    creds = Credentials(*world.kiosk_secret, "http://localhost")
    json_rules = json_post_rules()
    probe = Probe(app, world)
    probe.act_as(role)
    for rule in post_rules(app):
        url = build(rule, real_values(rule, world))
        for label, body in HOSTILE_JSON.items():
            headers = (signature_headers(creds, "POST", url, body)
                       if url.startswith("/api/v1/sync/") else {})
            response = probe.request("POST", url, data=body, content_type="application/json",
                                     headers=headers, label=label)
            if rule.rule in json_rules and not 400 <= response.status_code < 500:
                probe.problem("POST", url, response.status_code, f"{label}: not a 4xx")
    report(world, probe.sent)


def test_error_pages_follow_the_language_cookie(app, world):
    """With the English cookie every error page is English (and JSON errors too)."""
    probe = Probe(app, world, lang="en")
    probe.act_as("anonymous")
    for rule in routes(app):
        for method in methods(rule):
            url = build(rule, real_values(rule, world))
            probe.request(method, url + "?unit=%FF&period=x", label="en")
            for unmatched in list(unmatched_variants(rule, world))[:1]:
                probe.request(method, unmatched, label="en")
    probe.request("GET", "/no/such/page", label="en")
    report(world, probe.sent)


def test_not_found_page_is_vietnamese_by_default_and_english_on_request(client):
    vi = client.get("/no/such/page")
    assert vi.status_code == 404
    assert '<html lang="vi"' in vi.get_data(as_text=True)
    assert "Trang này không tồn tại" in vi.get_data(as_text=True)
    client.set_cookie("lang", "en")
    en = client.get("/no/such/page")
    assert "This page does not exist" in en.get_data(as_text=True)


def test_session_cookie_is_http_only_same_site_and_secure_when_asked(app, app_factory,
                                                                        monkeypatch):
    from tests.support.admin import login

    use_cheap_hashing(monkeypatch)
    build_org()
    for secure in (False, True):
        app = app_factory(SESSION_COOKIE_SECURE=secure)
        client = app.test_client()
        response = login(client, "root")
        assert response.status_code in (302, 303)
        cookie = next(c for c in response.headers.getlist("Set-Cookie")
                      if c.startswith(app.config["SESSION_COOKIE_NAME"] + "="))
        assert "HttpOnly" in cookie
        assert "SameSite=Lax" in cookie
        assert ("Secure" in cookie) is secure
        assert ("Strict-Transport-Security" in response.headers) is secure


# --- the bugs this module found, one specification each -----------------------------------------


@pytest.fixture
def org(demo, monkeypatch):
    use_cheap_hashing(monkeypatch)
    return build_org()


@pytest.mark.parametrize("number", [2**31, 2**63, 2**63 - 1, 10**40])
def test_an_id_beyond_what_a_database_holds_is_not_found(client, org, number):
    """It reached the driver before: "Python int too large to convert to SQLite INTEGER",
    "integer out of range" on PostgreSQL."""
    sign_in(client, org.admin)
    for url in (f"/admin/units/{number}", f"/admin/counters/{number}/poster.png",
                f"/admin/questionnaires/{number}"):
        response = client.get(url)
        assert response.status_code == 404, url
        assert "Trang này không tồn tại" in response.get_data(as_text=True)


@pytest.mark.parametrize("value", ["9" * 30, "²", "١٢", " 1 2 "])
def test_a_counter_filter_that_is_no_id_is_ignored(client, org, value):
    sign_in(client, org.manager)
    response = client.get(f"/admin/units/{org.centre.id}/officers", query_string={
        "counter": value})
    assert response.status_code == 200
    assert org.officer.code in response.get_data(as_text=True)


@pytest.mark.parametrize("value", ["9" * 30, "²"])
def test_a_comment_page_cursor_that_is_no_id_starts_at_the_first_page(client, org, value):
    sign_in(client, org.manager)
    assert client.get("/admin/dashboard/comments", query_string={"before": value}
                      ).status_code == 200


def test_a_unit_written_with_a_superscript_digit_is_not_found_in_the_api(client, org):
    """"²".isdigit() is true, and int("²") raised: a 500 from the reporting API."""
    secret = api_tokens.create(org.manager, "regression")
    db.session.commit()  # the service flushes; the test commits
    response = client.get("/api/v1/reports/indices", query_string={"unit": "²"},
                          headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 404
    assert response.get_json()["error"]["status"] == 404


def test_a_survey_rating_written_as_a_superscript_digit_is_refused(client, org):
    from core.models import SurveyDraft
    from tests.support.survey import kiosk_token, make_kiosk

    token = kiosk_token(make_kiosk(org.counter))
    assert client.post(f"/s/{token}").status_code == 303
    html = client.get(f"/s/{token}/1").get_data(as_text=True)
    rating = re.search(r'name="(r-[^"]+)"', html).group(1)
    drafts = db.session.scalar(select(func.count()).select_from(SurveyDraft))
    response = client.post(f"/s/{token}/1", data={rating: "²", "nav": "next"})
    assert response.status_code == 422
    assert "Traceback" not in response.get_data(as_text=True)
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(SurveyDraft)) == drafts


@pytest.mark.parametrize("body", ['"text"', "1", '[{"a": 1}]', '{"code": [1, {"a": null}]}'])
def test_a_json_body_sent_to_an_admin_form_is_refused_and_creates_nothing(client, org, body):
    """Flask-WTF read JSON bodies into the form; a string or array there was a 500."""
    from core.models import Unit

    sign_in(client, org.admin)
    units = db.session.scalar(select(func.count()).select_from(Unit))
    response = client.post("/admin/units/new", data=body, content_type="application/json")
    assert response.status_code == 422
    assert "Trường này là bắt buộc" in response.get_data(as_text=True)
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Unit)) == units


def test_an_oversized_body_is_refused_before_the_view_acts(org, app_factory):
    """Deactivate reads no body, so Werkzeug's own limit never fired and the unit was
    deactivated by a request far beyond MAX_CONTENT_LENGTH."""
    from core.models import Unit

    small = app_factory(MAX_CONTENT_LENGTH=16 * 1024)
    client = small.test_client()
    sign_in(client, org.admin)
    response = client.post(f"/admin/units/{org.commune.id}/deactivate",
                           data={"pad": "x" * 20_000})
    assert response.status_code == 413
    assert "quá lớn" in response.get_data(as_text=True)
    db.session.rollback()
    assert db.session.get(Unit, org.commune.id).active


# NUL cannot be stored in or compared with PostgreSQL text: these were 500s there (the SQLite
# run passes either way; `make test` runs them on PostgreSQL too).


def test_a_nul_in_an_admin_form_is_refused_with_the_reason(client, org):
    sign_in(client, org.admin)
    page = client.get(f"/admin/counters/{org.counter.id}").get_data(as_text=True)
    form = baseline(page) | {"name": "Quầy\x00 01"}
    response = client.post(f"/admin/counters/{org.counter.id}", data=form)
    assert response.status_code == 422
    assert "Không được dùng ký tự điều khiển" in response.get_data(as_text=True)
    db.session.rollback()
    assert "\x00" not in db.session.get(type(org.counter), org.counter.id).name


def test_a_nul_in_a_sign_in_name_or_an_audit_search_is_a_4xx(client, org):
    assert client.post("/admin/login", data={"username": "ro\x00ot",
                                              "password": "x"}).status_code == 422
    sign_in(client, org.admin)
    response = client.get("/admin/audit/", query_string={"username": "a\x00b"})
    assert response.status_code == 400
    assert "không được phép (byte NUL)" in response.get_data(as_text=True)


def test_a_wrong_kiosk_pin_for_an_officer_code_with_a_nul_is_still_audited(client, org):
    from core.models import AuditEntry
    from tests.support.kiosk import configure

    configure()
    response = client.post("/kiosk/staff", data={"officer": "CB\x00001", "pin": "0000"})
    assert response.status_code == 401
    db.session.rollback()
    entry = db.session.scalar(select(AuditEntry).where(
        AuditEntry.action == "kiosk.officer_pin_failed"))
    assert entry.username == "CB\ufffd001"


@pytest.mark.parametrize("path", ["/admin/users/", "/admin/units/", "/admin/catalog/procedures",
                                  "/admin/catalog/fields"])
def test_a_nul_in_a_list_page_cursor_is_refused_with_the_reason(client, org, path):
    """``?after=`` went straight into the keyset query: a 500 on PostgreSQL."""
    sign_in(client, org.admin)
    response = client.get(path, query_string={"after": "a\x00b"})
    assert response.status_code == 400
    assert "không được phép (byte NUL)" in response.get_data(as_text=True)


@pytest.mark.parametrize("body", [b"[" * 100_000 + b"]" * 100_000, b"[" * 2_000 + b"]" * 2_000])
def test_deeply_nested_json_to_enroll_is_invalid_json(client, org, body):
    response = client.post("/api/v1/sync/enroll", data=body, content_type="application/json")
    assert response.status_code in (400, 413)
    assert response.get_json()["error"]["code"] in ("invalid_json", "body_too_large")


def test_deeply_nested_json_to_push_and_to_the_dossier_endpoint_is_a_400(client, org):
    from kiosk.identity import Credentials
    from tests.support.survey import make_kiosk
    from tests.support.sync_helpers import signed

    kiosk = make_kiosk(org.counter)
    creds = Credentials(kiosk.public_id, kiosk.secret, "http://localhost")
    nested = b'{"ratings": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    response = signed(client, creds, "POST", "/api/v1/sync/push", raw=nested)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_json"
    secret = api_tokens.create(org.manager, "nested")
    db.session.commit()  # the service flushes; the test commits
    response = client.post("/api/v1/survey-tokens/dossier", data=nested,
                           content_type="application/json",
                           headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 400
    assert response.get_json()["error"]["message"]


def test_duplicate_keys_and_non_finite_numbers_are_not_json_a_view_acts_on(client, org):
    from core import jsonsafe

    for text in ('{"a": 1, "a": 2}', '{"a": NaN}', '{"a": 1e999}', "9" * 5000,
                 "[" * 100_000 + "]" * 100_000):
        with pytest.raises(ValueError):
            jsonsafe.loads(text)
    assert jsonsafe.loads('{"a": [1, -2.5, {"b": null}]}') == {"a": [1, -2.5, {"b": None}]}
