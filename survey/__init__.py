"""The public phone survey reached by QR code (served by the aggregator)."""

from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    from survey.views import bp

    app.register_blueprint(bp)
