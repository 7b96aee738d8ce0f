"""Words for the codes core/services/survey/flow.py gives (ServiceError codes for a link that
cannot be used, field error codes), in the survey's message domain."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

# reason -> (title, what happened, what the citizen can do)
TOKEN_PROBLEMS = {
    "malformed": (
        _l("This survey link is incomplete"),
        _l("The address could not be read. Part of it may be missing."),
        _l("Scan the QR code again, or copy the whole link from your receipt or message."),
    ),
    "tampered": (
        _l("This survey link is not valid"),
        _l("The address has been changed and cannot be trusted."),
        _l("Scan the QR code again, or copy the whole link from your receipt or message."),
    ),
    "unknown": (
        _l("This survey link is not known"),
        _l("We could not find the counter or device this link belongs to."),
        _l("Ask at the counter for a new QR code, or use the survey poster at the counter."),
    ),
    "expired": (
        _l("This survey link has expired"),
        _l("Survey links are valid for a limited time after your visit."),
        _l("You can still give your opinion with the QR poster at the counter."),
    ),
    "revoked": (
        _l("This survey link is no longer valid"),
        _l("The device that made this link has been withdrawn."),
        _l("You can still give your opinion with the QR poster at the counter."),
    ),
    "used": (
        _l("This survey has already been answered"),
        _l("Each visit can be rated once, and answers for this visit have already been sent."),
        _l("Nothing more is needed. Thank you for taking part."),
    ),
    "busy": (
        _l("Too many surveys started"),
        _l("Many surveys were started from this network in a short time."),
        _l("Please wait a few minutes and try again."),
    ),
    "no_page": (
        _l("This page of the survey does not exist"),
        _l("The address points to a page the survey does not have."),
        _l("Go back to the start of the survey to continue."),
    ),
    "skipped": (
        _l("Please answer the earlier pages first"),
        _l("This page comes after pages that are not yet complete."),
        _l("Continue from the first page that is not complete."),
    ),
    "bad_request": (
        _l("The answers could not be read"),
        _l("What was sent does not match this page of the survey."),
        _l("Go back to the start of the survey to continue."),
    ),
}

FIELD_ERRORS = {
    "required": _l("Please choose an answer."),
    "invalid_level": _l("Please choose one of the answers shown."),
    "invalid_option": _l("Please choose one of the answers shown."),
    "too_many": _l("Please choose at most %(max)s."),
    "too_long": _l("Please shorten your comment to at most %(max)s characters."),
    "unknown_field": _l("The answers sent do not match this page. Please answer again."),
    "already_submitted": _l("This survey has already been sent."),
    "busy": _l("The service is busy. Please try again in a moment."),
}
