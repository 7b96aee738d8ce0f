"""The aggregator's administration: dashboard, management, reporting API and sync endpoint."""

from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    from admin.api import bp as api_bp
    from admin.kiosks import bp as kiosks_bp
    from admin.kiosks_cli import kiosks_cli
    from admin.sync_api import bp as sync_api_bp
    from admin.views import bp

    app.register_blueprint(bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(sync_api_bp)
    app.register_blueprint(kiosks_bp)
    app.cli.add_command(kiosks_cli)
