"""Messages that services raise: translated in a request, plain English in the CLI.

Flask-Babel picks the language from the request; a command-line tool (``flask create-admin``)
has none, so there the English source string is used as it is.
"""

from __future__ import annotations

from flask import has_request_context
from flask_babel import gettext


def _(message: str, **values: object) -> str:
    if has_request_context():
        return gettext(message, **values)
    return message % values if values else message
