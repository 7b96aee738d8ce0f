"""The aggregator's administration: dashboard, management, reporting API and sync endpoint."""

from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    from admin import (
        account,
        audit_log,
        catalog,
        counters,
        nav,
        officers,
        questionnaires,
        units,
        users,
    )
    from admin.api import bp as api_bp
    from admin.views import bp

    app.register_blueprint(bp)
    app.register_blueprint(api_bp)
    for module in (account, users, units, counters, officers, catalog, audit_log,
                   questionnaires):
        app.register_blueprint(module.bp)
    nav.init_app(app)
