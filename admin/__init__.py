"""The aggregator's administration (signed-in staff): dashboard, management, kiosk fleet."""

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
    from admin.dashboard import bp as dashboard_bp
    from admin.kiosks import bp as kiosks_bp
    from admin.kiosks_cli import kiosks_cli
    from admin.views import bp

    app.register_blueprint(bp)
    app.register_blueprint(dashboard_bp)
    for module in (account, users, units, counters, officers, catalog, audit_log,
                   questionnaires):
        app.register_blueprint(module.bp)
    nav.init_app(app)
    app.register_blueprint(kiosks_bp)
    app.cli.add_command(kiosks_cli)
