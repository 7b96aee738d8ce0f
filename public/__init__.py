"""The public pages anyone may read without signing in (served by the aggregator)."""

from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    from public.views import bp

    app.register_blueprint(bp)
