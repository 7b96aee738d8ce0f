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
    from admin.dashboard import bp as dashboard_bp
    from admin.dashboard import public_bp
    from admin.kiosks import bp as kiosks_bp
    from admin.kiosks_cli import kiosks_cli
    from admin.reports_api import bp as reports_api_bp
    from admin.sync_api import bp as sync_api_bp
    from admin.views import bp

    app.register_blueprint(bp)
    app.register_blueprint(dashboard_bp)
    app.register_blueprint(public_bp)
    app.register_blueprint(api_bp)
    for module in (account, users, units, counters, officers, catalog, audit_log,
                   questionnaires):
        app.register_blueprint(module.bp)
    nav.init_app(app)
    app.register_blueprint(reports_api_bp)
    app.register_blueprint(sync_api_bp)
    app.register_blueprint(kiosks_bp)
    app.cli.add_command(kiosks_cli)
