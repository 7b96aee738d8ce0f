"""The aggregator's administration: dashboard, management, reporting API and sync endpoint."""

from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    from admin.api import bp as api_bp
    from admin.views import bp

    app.register_blueprint(bp)
    app.register_blueprint(api_bp)
