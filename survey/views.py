"""The public phone survey at /s/<token>. Thin: parse, call survey services, render.

Pages: the intro (GET/POST /s/<token>), one page per step (GET/POST /s/<token>/<n>) and the
thank-you page. Every page works without JavaScript; the language buttons on a step page submit
the page's form, so switching language keeps what was just answered.
"""

from __future__ import annotations

import secrets

import click
from flask import (
    Blueprint,
    current_app,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from core.config import LOCALES
from core.extensions import db
from core.i18n import LANG_COOKIE, current_locale, num
from core.services.errors import ServiceError
from core.services.survey import flow as service
from survey.messages import FIELD_ERRORS, TOKEN_PROBLEMS

bp = Blueprint(
    "survey",
    __name__,
    url_prefix="/s",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)

BROWSER_COOKIE = "sipas_sb"
POSTER_SESSION = "survey_poster"
NAVS = ("back", "next", "submit")


def _browser_id() -> str:
    value = request.cookies.get(BROWSER_COOKIE, "")
    if 16 <= len(value) <= 64 and value.isalnum():
        return value
    # Kept on the request (not on g, which outlives a request when an app context is reused).
    return request.environ.setdefault("sipas.survey_browser", secrets.token_hex(16))


@bp.after_request
def _remember_browser(response):
    # A random id per browser (no personal data) for the poster limits and idempotent submits.
    if BROWSER_COOKIE not in request.cookies or request.cookies[BROWSER_COOKIE] != _browser_id():
        response.set_cookie(
            BROWSER_COOKIE,
            _browser_id(),
            max_age=365 * 86400,
            httponly=True,
            samesite="Lax",
            secure=current_app.config["SESSION_COOKIE_SECURE"],
        )
    return response


def _problem(reason: str, status: int, token: str | None = None, step: int | None = None):
    title, what, todo = TOKEN_PROBLEMS[reason]
    html = render_template(
        "survey/problem.html", reason=reason, title=title, what=what, todo=todo,
        token=token, step=step,
    )
    return make_response(html, status)


def _target(token: str):
    """The verified target, or the friendly page for a token that cannot be used."""
    try:
        return service.resolve(token), None
    except ServiceError as problem:
        return None, _problem(problem.code, problem.status)


def _key(target) -> str | None:
    if target.token_key:
        return target.token_key
    key = session.get(POSTER_SESSION, {}).get(str(target.counter_id))
    return key if service.poster_key_belongs(target, key) else None


def _finished(token: str, key: str):
    """The response for a key that is already stored: thanks for its sender, 409 for others."""
    if service.submitted_by_me(key, _browser_id()):
        return redirect(url_for("survey.thanks", token=token), 303)
    return _problem("used", 409)


@bp.route("/<token>", methods=["GET", "POST"])
def intro(token: str):
    """Who is asking, that it is anonymous and how long it takes; Start (or Continue)."""
    target, problem = _target(token)
    if problem:
        return problem
    key = _key(target)
    if key and not target.is_poster and service.answered(key):
        return _finished(token, key)
    draft = service.get_draft(key) if key else None
    if draft is not None and draft.data.get("submitted_by"):
        draft = None  # a poster survey this browser already sent: the next one starts afresh
    survey = service.survey_for(draft)
    if request.method == "POST":
        if target.is_poster and draft is None:
            try:
                key = service.new_poster_key(target, request.remote_addr or "")
            except ServiceError as problem:
                return _problem(problem.code, problem.status)
            session.setdefault(POSTER_SESSION, {})[str(target.counter_id)] = key
            session.modified = True
        number = service.resume_step(survey, draft.data) if draft else 1
        return redirect(url_for("survey.step", token=token, number=number), 303)
    resume = None
    if draft is not None and any(draft.data.get(p) for p in ("ratings", "choices", "multi")):
        resume = service.resume_step(survey, draft.data)
    return render_template(
        "survey/intro.html", token=token, target=target, survey=survey, resume=resume,
        minutes=max(3, survey.total), days_left=service.expires_in_days(token),
    )


def _render_step(token, target, survey, step, data, errors=None, status=200):
    locale = current_locale()
    messages = {}
    for name, code in (errors or {}).items():
        limit = None
        for question in step.questions:
            if name == service.QUESTION_PREFIX + question.code:
                limit = question.max if code == "too_many" else question.max_length
        messages[name] = FIELD_ERRORS[code] % {"max": num(limit)} if limit else FIELD_ERRORS[code]
    labels = {service.RATING_PREFIX + i.code: i.text.get(locale) for i in
              (step.element.items if step.element else ())}
    labels.update({service.QUESTION_PREFIX + q.code: q.text.get(locale) for q in step.questions})
    html = render_template(
        "survey/step.html", token=token, target=target, survey=survey, step=step, data=data,
        errors=messages, labels=labels, locale=locale, scale=survey.definition.scale,
        rating=service.RATING_PREFIX, question=service.QUESTION_PREFIX,
    )
    return make_response(html, status)


@bp.route("/<token>/<int:number>", methods=["GET", "POST"])
def step(token: str, number: int):
    """One page of the survey; POST saves it and moves back, forward or submits."""
    target, problem = _target(token)
    if problem:
        return problem
    key = _key(target)
    if key is None:
        return redirect(url_for("survey.intro", token=token), 303)
    if not target.is_poster and service.answered(key):
        return _finished(token, key)
    draft = service.get_draft(key)
    if draft is not None and draft.data.get("submitted_by"):
        return _finished(token, key)
    survey = service.survey_for(draft)
    page = survey.step(number)
    if page is None:
        return _problem("no_page", 404, token=token)
    data = draft.data if draft else service.empty_data(survey)
    if not service.reachable(survey, data, number):
        if request.method == "GET":
            first = service.first_incomplete(survey, data)
            return redirect(url_for("survey.step", token=token, number=first), 303)
        return _problem("skipped", 422, token=token, step=service.first_incomplete(survey, data))
    if request.method == "GET":
        return _render_step(token, target, survey, page, data)

    nav = request.form.get("nav", "next")
    lang = nav.split(":", 1)[1] if nav.startswith("lang:") else None
    if nav not in NAVS and lang not in LOCALES:
        return _problem("bad_request", 400, token=token)
    form = {
        name: values for name, values in request.form.to_dict(flat=False).items()
        if name not in ("csrf_token", "nav")
    }
    if nav in ("next", "submit") and number == survey.total:
        result = service.submit(
            target, key, form, browser_id=_browser_id(), ip=request.remote_addr or "",
            locale=current_locale(),
        )
        if result.outcome in ("stored", "again"):
            return redirect(url_for("survey.thanks", token=token), 303)
        if result.outcome == "used":
            return _problem("used", 409)
        if result.outcome == "incomplete":
            return redirect(url_for("survey.step", token=token, number=result.step), 303)
        if result.outcome == "expired":
            return redirect(url_for("survey.intro", token=token), 303)
        shown = service.merge(data, page, service.parse_step(page, form, require=False)[0])
        return _render_step(token, target, survey, page, shown, result.errors, 422)

    saved = service.save_step(key, survey, page, form, forward=nav in ("next", "submit"))
    if not saved.saved:
        if saved.errors.get("_form") == "already_submitted":
            return _finished(token, key)
        shown = service.merge(data, page, saved.values)
        return _render_step(token, target, survey, page, shown, saved.errors, 422)
    if lang:
        response = redirect(url_for("survey.step", token=token, number=number), 303)
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 24 * 3600, samesite="Lax",
                            secure=current_app.config["SESSION_COOKIE_SECURE"], httponly=True)
        return response
    target_number = max(1, number - 1) if nav == "back" else number + 1
    return redirect(url_for("survey.step", token=token, number=target_number), 303)


@bp.cli.command("purge-drafts")
@click.option("--days", default=30, show_default=True, type=click.IntRange(min=1),
              help="Delete drafts untouched for this many days.")
def purge_drafts_command(days: int) -> None:
    """Delete old survey drafts (run daily from cron: flask --app wsgi survey purge-drafts)."""
    deleted = service.purge_drafts(days)
    db.session.commit()
    click.echo(f"deleted {deleted} survey drafts older than {days} days")


@bp.get("/<token>/thanks")
def thanks(token: str):
    """The end of the survey."""
    target, problem = _target(token)
    if problem:
        return problem
    key = _key(target)
    if key is None or not service.answered(key):
        return redirect(url_for("survey.intro", token=token), 303)
    return render_template("survey/thanks.html", token=token, target=target)
