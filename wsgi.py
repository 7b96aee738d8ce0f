"""WSGI entry point for gunicorn (``gunicorn wsgi:app``) and the ``flask --app wsgi`` CLI.

A bad configuration or an unreachable database stops start-up with one clear line, not a traceback.
"""

from __future__ import annotations

import sys

from core import create_app
from core.config import ConfigError


def _build():
    try:
        application = create_app()
    except ConfigError as exc:
        print(f"Configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    if "--help" not in sys.argv:
        from core.database import ping

        with application.app_context():
            problem = ping()
        if problem is not None:
            uri = application.config["SQLALCHEMY_DATABASE_URI"].split("@")[-1]
            print(f"Database unreachable ({uri}): {problem}", file=sys.stderr)
            raise SystemExit(3)
    return application


app = _build()
