"""WSGI entry point for gunicorn (``gunicorn wsgi:app``) and the ``flask --app wsgi`` CLI.

A bad configuration stops start-up with one clear line, not a traceback. An unreachable database
stops a CLI command the same way (it cannot do its work), but a server starts anyway: it logs one
line, answers 503 (``/healthz`` included) and serves normally as soon as the database answers,
instead of exiting into a restart loop while the database is down.
"""

from __future__ import annotations

import os
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
            if os.environ.get("FLASK_RUN_FROM_CLI") == "true":
                print(f"Database unreachable ({uri}): {problem}", file=sys.stderr)
                raise SystemExit(3)
            print(f"Database unreachable ({uri}): {problem}; answering 503 until it is back",
                  file=sys.stderr, flush=True)
    return application


app = _build()
